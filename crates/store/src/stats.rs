//! Daily statistics per bot (decision 0047): what each handled update counts for
//! ([`ferrogram_core::Tally`]) added up per bot and UTC day in `bot_daily_stats` (updates,
//! blocked, errors, a reply latency histogram) and `bot_active_users` (who was active which
//! day), written by the group commit with the rest of the batch — two multi-row statements per
//! batch, none when it has no update — and read by [`Store::stats`] for one bot or several
//! (a workspace's). `bot_daily_stats` is kept without a time limit (a row per bot and day);
//! `bot_active_users` (a row per active user and day) only for the last
//! [`ACTIVE_USERS_KEEP_DAYS`](ferrogram_core::ACTIVE_USERS_KEEP_DAYS) days, enough for the
//! monthly window: [`Store::active_users_prune`] (decision 0053) first writes each older day's
//! distinct count into its `bot_daily_stats.active_users`, then deletes its rows. A pruned
//! day's active users are that count (added up over several bots: a user of two bots counts
//! twice there); a distinct count over a window reaching a pruned day is at least its busiest
//! pruned day's.

use std::collections::BTreeMap;

use ferrogram_core::{Tally, TallyOutcome};
use sqlx::Row;

use crate::ops::{Conn, ROWS_PER_STATEMENT, int, list, tuples};
use crate::{Result, Store, Transaction};

/// Runs `$body` with `$c` bound to the backend's connection (as in `ops`).
macro_rules! on {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            Conn::Sqlite($c) => $body,
            Conn::Postgres($c) => $body,
        }
    };
}

/// Seconds in a (UTC) day: a day is `unix_seconds.div_euclid(DAY)`.
pub const DAY: i64 = 86_400;

/// The upper bounds (inclusive, milliseconds) of the latency histogram's buckets; one more
/// bucket counts the latencies above the last.
pub const LATENCY_BOUNDS_MS: [u64; 11] = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000];

/// The histogram's buckets: one per bound and the one above.
pub const LATENCY_BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;

const LATENCY_COLUMNS: &str =
    "lat_10, lat_25, lat_50, lat_100, lat_250, lat_500, lat_1000, lat_2500, lat_5000, lat_10000, lat_30000, lat_over";

/// One bot's (or several bots') counts of one day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayCounts {
    /// Updates handled, blocked ones included.
    pub updates: u64,
    /// Updates of blocked users (no handler ran).
    pub blocked: u64,
    /// Updates whose handling failed: a step failed, or the update was set aside.
    pub errors: u64,
    /// Handled updates (not blocked) by latency bucket ([`LATENCY_BOUNDS_MS`]).
    pub latency: [u64; LATENCY_BUCKETS],
}

impl DayCounts {
    fn add(&mut self, tally: &Tally) {
        self.updates += 1;
        match tally.outcome {
            TallyOutcome::Ok => {}
            TallyOutcome::Error => self.errors += 1,
            TallyOutcome::Blocked => self.blocked += 1,
        }
        if let Some(ms) = tally.latency_ms {
            self.latency[bucket(ms)] += 1;
        }
    }

    fn merge(&mut self, other: &DayCounts) {
        self.updates += other.updates;
        self.blocked += other.blocked;
        self.errors += other.errors;
        for (mine, theirs) in self.latency.iter_mut().zip(other.latency) {
            *mine += theirs;
        }
    }

    /// The latency at or under which a fraction `p` (0 < p ≤ 1) of the handled updates was
    /// answered: the upper bound of the bucket holding the `ceil(p × n)`th fastest of the `n`.
    /// `None` without handled updates. The bucket above the last bound answers that bound
    /// (read it as "at least").
    pub fn latency_percentile(&self, p: f64) -> Option<u64> {
        percentile(&self.latency, p)
    }
}

/// See [`DayCounts::latency_percentile`].
pub fn percentile(latency: &[u64; LATENCY_BUCKETS], p: f64) -> Option<u64> {
    let n: u64 = latency.iter().sum();
    if n == 0 {
        return None;
    }
    let rank = ((p * n as f64).ceil() as u64).clamp(1, n);
    let mut seen = 0;
    for (index, count) in latency.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return Some(LATENCY_BOUNDS_MS[index.min(LATENCY_BOUNDS_MS.len() - 1)]);
        }
    }
    None
}

fn bucket(ms: u64) -> usize {
    LATENCY_BOUNDS_MS.iter().position(|bound| ms <= *bound).unwrap_or(LATENCY_BOUNDS_MS.len())
}

/// A batch's tallies, added up per (bot, day), and its active (bot, day, user)s.
#[derive(Debug, Default)]
pub(crate) struct Rollup {
    pub days: BTreeMap<(i64, i64), DayCounts>,
    pub active: Vec<((i64, i64), i64)>,
}

impl Rollup {
    pub fn add(&mut self, bot: i64, tally: &Tally) {
        let day = tally.at.div_euclid(DAY);
        self.days.entry((bot, day)).or_default().add(tally);
        if let (Some(user), false) = (tally.user_id, tally.outcome == TallyOutcome::Blocked) {
            self.active.push(((bot, user), day));
        }
    }
}

/// A bot's (or several bots') statistics over a range of days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Each day of the range, oldest first, with its distinct active users.
    pub days: Vec<(i64, DayCounts, u64)>,
    /// Distinct active users over the whole range.
    pub active_users: u64,
    /// Distinct active users over the 7 days ending with the range's last day.
    pub weekly_active_users: u64,
    /// Distinct active users over the 30 days ending with the range's last day.
    pub monthly_active_users: u64,
}

impl Stats {
    /// The counts of the whole range.
    pub fn total(&self) -> DayCounts {
        let mut total = DayCounts::default();
        for (_, counts, _) in &self.days {
            total.merge(counts);
        }
        total
    }
}

impl Conn<'_> {
    /// Adds each (bot, day)'s counts to its row.
    pub(crate) async fn add_daily_stats(self, rows: &[((i64, i64), DayCounts)]) -> Result<()> {
        let conflict = format!(
            " ON CONFLICT (bot_id, day) DO UPDATE SET updates = bot_daily_stats.updates + excluded.updates, \
             blocked = bot_daily_stats.blocked + excluded.blocked, errors = bot_daily_stats.errors + excluded.errors, {}",
            LATENCY_COLUMNS
                .split(", ")
                .map(|c| format!("{c} = bot_daily_stats.{c} + excluded.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let columns = 5 + LATENCY_BUCKETS;
        let chunk_rows = ROWS_PER_STATEMENT / 2;
        on!(self, c => for chunk in rows.chunks(chunk_rows) {
            let sql = format!(
                "INSERT INTO bot_daily_stats (bot_id, day, updates, blocked, errors, {LATENCY_COLUMNS}) VALUES {}{conflict}",
                tuples(1, columns, chunk.len()));
            let mut query = sqlx::query(&sql);
            for ((bot, day), counts) in chunk {
                query = query.bind(bot).bind(day).bind(count(counts.updates)).bind(count(counts.blocked))
                    .bind(count(counts.errors));
                for n in counts.latency {
                    query = query.bind(count(n));
                }
            }
            query.execute(&mut *c).await?;
        });
        Ok(())
    }

    /// Records that these users were active on these days.
    pub(crate) async fn add_active_users(self, rows: &[((i64, i64), i64)]) -> Result<()> {
        on!(self, c => for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO bot_active_users (bot_id, user_id, day) VALUES {} ON CONFLICT DO NOTHING",
                tuples(1, 3, chunk.len()));
            let mut query = sqlx::query(&sql);
            for ((bot, user), day) in chunk {
                query = query.bind(bot).bind(user).bind(day);
            }
            query.execute(&mut *c).await?;
        });
        Ok(())
    }

    pub(crate) async fn stats(self, bots: &[u64], from: i64, to: i64) -> Result<Stats> {
        let bots = bots.iter().map(|bot| int("bot id", *bot)).collect::<Result<Vec<_>>>()?;
        let mut stats = Stats::default();
        let mut counts: BTreeMap<i64, (DayCounts, u64)> = (from..=to).map(|day| (day, Default::default())).collect();
        if bots.is_empty() {
            stats.days = counts.into_iter().map(|(day, (c, a))| (day, c, a)).collect();
            return Ok(stats);
        }
        let among = list(3, bots.len());
        // The last column: the pruned days' counts of active users (NULL for a day still listed).
        let sums = format!(
            "SELECT day, CAST(SUM(updates) AS BIGINT), CAST(SUM(blocked) AS BIGINT), CAST(SUM(errors) AS BIGINT), {}, \
             CAST(SUM(active_users) AS BIGINT) \
             FROM bot_daily_stats WHERE day >= $1 AND day <= $2 AND bot_id IN ({among}) GROUP BY day",
            LATENCY_COLUMNS.split(", ").map(|c| format!("CAST(SUM({c}) AS BIGINT)")).collect::<Vec<_>>().join(", ")
        );
        let daily = format!(
            "SELECT day, COUNT(DISTINCT user_id) FROM bot_active_users \
             WHERE day >= $1 AND day <= $2 AND bot_id IN ({among}) GROUP BY day"
        );
        let distinct = format!(
            "SELECT COUNT(DISTINCT user_id) FROM bot_active_users WHERE day >= $1 AND day <= $2 AND bot_id IN ({among})"
        );
        let windows = [(from, to), (to - 6, to), (to - 29, to)];
        let mut distinct_counts = [0i64; 3];
        // Pruned days' counts, from the earliest day a window reaches.
        let mut frozen: BTreeMap<i64, i64> = BTreeMap::new();
        on!(self, c => {
            let mut query = sqlx::query(&sums).bind(from.min(to - 29)).bind(to);
            for bot in &bots {
                query = query.bind(bot);
            }
            for row in query.fetch_all(&mut *c).await? {
                let day: i64 = row.try_get(0)?;
                if let Some(users) = row.try_get::<Option<i64>, _>(4 + LATENCY_BUCKETS)? {
                    frozen.insert(day, users);
                }
                if day < from {
                    continue;
                }
                let entry = &mut counts.entry(day).or_default().0;
                entry.updates = uncount(row.try_get(1)?);
                entry.blocked = uncount(row.try_get(2)?);
                entry.errors = uncount(row.try_get(3)?);
                for (index, n) in entry.latency.iter_mut().enumerate() {
                    *n = uncount(row.try_get(4 + index)?);
                }
            }
            let mut query = sqlx::query_as::<_, (i64, i64)>(&daily).bind(from).bind(to);
            for bot in &bots {
                query = query.bind(bot);
            }
            for (day, users) in query.fetch_all(&mut *c).await? {
                counts.entry(day).or_default().1 = uncount(users);
            }
            for (slot, (start, end)) in distinct_counts.iter_mut().zip(windows) {
                let mut query = sqlx::query_scalar::<_, i64>(&distinct).bind(start).bind(end);
                for bot in &bots {
                    query = query.bind(bot);
                }
                *slot = query.fetch_one(&mut *c).await?;
            }
        });
        // A pruned day has no rows left: its count stands for them, and a window reaching it
        // had at least as many distinct users as its busiest such day.
        for (day, (_, active)) in counts.iter_mut() {
            if let (0, Some(users)) = (*active, frozen.get(day)) {
                *active = uncount(*users);
            }
        }
        for (slot, (start, end)) in distinct_counts.iter_mut().zip(windows) {
            let busiest = frozen.range(start..=end).map(|(_, users)| *users).max().unwrap_or(0);
            *slot = (*slot).max(busiest);
        }
        stats.days = counts.into_iter().map(|(day, (c, a))| (day, c, a)).collect();
        stats.active_users = uncount(distinct_counts[0]);
        stats.weekly_active_users = uncount(distinct_counts[1]);
        stats.monthly_active_users = uncount(distinct_counts[2]);
        Ok(stats)
    }
}

impl Store {
    /// Forgets who was active on the bot's days before `before_day`, first writing each such
    /// day's distinct count into its `bot_daily_stats.active_users` (one transaction); returns
    /// how many `bot_active_users` rows went. See the module and
    /// [`StateStore::active_users_prune`](ferrogram_core::StateStore::active_users_prune).
    pub async fn active_users_prune(&self, bot: u64, before_day: i64) -> Result<u64> {
        const COUNT: &str = "UPDATE bot_daily_stats SET active_users = (SELECT COUNT(DISTINCT a.user_id) \
             FROM bot_active_users a WHERE a.bot_id = bot_daily_stats.bot_id AND a.day = bot_daily_stats.day) \
             WHERE bot_id = $1 AND day < $2 AND active_users IS NULL";
        const FORGET: &str = "DELETE FROM bot_active_users WHERE bot_id = $1 AND day < $2";
        let bot = int("bot id", bot)?;
        let mut tx = self.transaction().await?;
        let forgotten = on!(tx.conn(), c => {
            sqlx::query(COUNT).bind(bot).bind(before_day).execute(&mut *c).await?;
            sqlx::query(FORGET).bind(bot).bind(before_day).execute(&mut *c).await?.rows_affected()
        });
        tx.commit().await?;
        Ok(forgotten)
    }
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn uncount(n: i64) -> u64 {
    u64::try_from(n).unwrap_or_default()
}

operations! {
    /// The statistics of `bots` (engine ids; several: added up, users counted once) from the
    /// UTC day `from` to the day `to` (days since 1970-01-01, both included): each day's
    /// counts and active users, and the distinct active users of the range, of the 7 days and
    /// of the 30 days ending with `to`.
    fn stats(bots: &[u64], from: i64, to: i64) -> Stats;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_fall_in_their_buckets_and_percentiles_name_the_bound() {
        assert_eq!([0, 10, 11, 25, 30_000, 30_001].map(bucket), [0, 0, 1, 1, 10, 11]);
        let mut latency = [0; LATENCY_BUCKETS];
        assert_eq!(percentile(&latency, 0.5), None);
        latency[0] = 9; // 9 at most 10 ms
        latency[4] = 1; // 1 at most 250 ms
        assert_eq!(percentile(&latency, 0.5), Some(10));
        assert_eq!(percentile(&latency, 0.9), Some(10));
        assert_eq!(percentile(&latency, 0.95), Some(250));
        latency[11] = 100;
        assert_eq!(percentile(&latency, 0.95), Some(30_000), "above the last bound: the last bound");
    }
}
