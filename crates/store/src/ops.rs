//! Every query, written once: the SQL is the same text on both backends (`$n` parameters,
//! `ON CONFLICT`, `RETURNING` and partial indexes exist in SQLite and PostgreSQL alike), and
//! [`on!`] compiles it against each driver, so column types are checked per backend by the
//! drivers' own decoders rather than through `sqlx::Any`.

use std::collections::HashMap;

use ferrogram_core::{ChatState, DeadLetter, Outgoing, PendingSend, Received, Scope, StoredDeadLetter};
use serde_json::{Map, Value};
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;

use crate::directory::{ChatRecord, UserRecord};
use crate::{Error, InboxUpdate, Result, now};

/// One connection of either backend: a pooled one or a transaction's.
pub(crate) enum Conn<'c> {
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgConnection),
}

/// Runs `$body` with `$c` bound to the backend's connection; `$body` is compiled per backend.
macro_rules! on {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            Conn::Sqlite($c) => $body,
            Conn::Postgres($c) => $body,
        }
    };
}

pub(crate) fn int(what: &'static str, value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| Error::OutOfRange { what, value })
}

fn uint(what: &'static str, value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| Error::Negative { what, value })
}

/// Rows a multi-row statement writes at most. With at most 8 columns a row this stays far
/// under the bound parameters a statement may have (SQLite 32 766 since 3.32, sqlx bundles
/// 3.46; PostgreSQL 65 535), and keeps each statement's text (and sqlx's cached copy) small.
pub(crate) const ROWS_PER_STATEMENT: usize = 1000;

/// `($first, …), (…), …`: `rows` tuples of `columns` numbered parameters, from `$first` on.
pub(crate) fn tuples(first: usize, columns: usize, rows: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 6);
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", first + row * columns + column));
        }
        sql.push(')');
    }
    sql
}

/// `$first, …`: `count` numbered parameters, for an `IN (…)` list.
pub(crate) fn list(first: usize, count: usize) -> String {
    (first..first + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

/// A `bot_users` row: id, first name, last name, username, language, first seen, last seen.
type UserRow = (i64, String, Option<String>, Option<String>, Option<String>, i64, i64);

/// A `bot_users` row as the directory's JSON object.
fn user_value((id, first_name, last_name, username, language_code, first_seen, last_seen): UserRow) -> Value {
    serde_json::json!({
        "id": id, "first_name": first_name, "last_name": last_name, "username": username,
        "language_code": language_code, "first_seen": first_seen, "last_seen": last_seen,
    })
}

/// A `bot_users` row with its block, if any: when and by whom.
type BlockedUserRow =
    (i64, String, Option<String>, Option<String>, Option<String>, i64, i64, Option<i64>, Option<String>);

/// A user row as the directory's JSON object with `blocked`, `blocked_at` and `blocked_by`.
fn blocked_user_value(
    (id, first_name, last_name, username, language_code, first_seen, last_seen, blocked_at, blocked_by): BlockedUserRow,
) -> Value {
    let mut user = user_value((id, first_name, last_name, username, language_code, first_seen, last_seen));
    user["blocked"] = Value::Bool(blocked_at.is_some());
    user["blocked_at"] = blocked_at.into();
    user["blocked_by"] = blocked_by.into();
    user
}

/// A `dead_letters` row: id, bot, update id, chat, raw, reason, attempts, failed at.
type DeadLetterRow = (i64, i64, i64, Option<i64>, String, String, i64, i64);

fn dead_letter(
    (id, bot, update_id, chat_id, raw, reason, attempts, failed_at): DeadLetterRow,
) -> Result<StoredDeadLetter> {
    let attempts = u32::try_from(attempts).unwrap_or(u32::MAX);
    Ok(StoredDeadLetter {
        id,
        bot: uint("bot id", bot)?,
        failed_at,
        letter: DeadLetter { update_id, chat_id, raw, reason, attempts },
    })
}

pub(crate) fn scope_key(scope: Scope) -> (&'static str, i64) {
    match scope {
        Scope::User(id) => ("user", id),
        Scope::Chat(id) => ("chat", id),
        Scope::Bot => ("bot", 0),
    }
}

impl Conn<'_> {
    pub(crate) async fn load_chat(self, bot: u64, chat: i64) -> Result<Option<ChatState>> {
        const SQL: &str = "SELECT state FROM chat_states WHERE bot_id = $1 AND chat_id = $2";
        let bot = int("bot id", bot)?;
        let text: Option<String> =
            on!(self, c => sqlx::query_scalar(SQL).bind(bot).bind(chat).fetch_optional(c).await?);
        Ok(text.map(|text| serde_json::from_str(&text)).transpose()?)
    }

    pub(crate) async fn save_chat(self, bot: u64, chat: i64, state: &ChatState) -> Result<()> {
        const SQL: &str = "INSERT INTO chat_states (bot_id, chat_id, state, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (bot_id, chat_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at";
        let bot = int("bot id", bot)?;
        let text = serde_json::to_string(state)?;
        on!(self, c => sqlx::query(SQL).bind(bot).bind(chat).bind(&text).bind(now()).execute(c).await?.rows_affected());
        Ok(())
    }

    pub(crate) async fn load_vars(self, bot: u64, scope: Scope) -> Result<Map<String, Value>> {
        const SQL: &str = "SELECT name, value FROM variables WHERE bot_id = $1 AND scope = $2 AND owner_id = $3";
        let bot = int("bot id", bot)?;
        let (scope, owner) = scope_key(scope);
        let rows: Vec<(String, String)> =
            on!(self, c => sqlx::query_as(SQL).bind(bot).bind(scope).bind(owner).fetch_all(c).await?);
        rows.into_iter().map(|(name, value)| Ok((name, serde_json::from_str(&value)?))).collect()
    }

    pub(crate) async fn set_var(self, bot: u64, scope: Scope, name: &str, value: Option<&Value>) -> Result<()> {
        const SET: &str = "INSERT INTO variables (bot_id, scope, owner_id, name, value, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (bot_id, scope, owner_id, name) \
             DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
        let bot = int("bot id", bot)?;
        let (scope, owner) = scope_key(scope);
        match value {
            Some(value) => {
                let text = serde_json::to_string(value)?;
                on!(self, c => sqlx::query(SET)
                    .bind(bot).bind(scope).bind(owner).bind(name).bind(&text).bind(now())
                    .execute(c).await?.rows_affected());
            }
            None => self.forget_var(bot, scope, owner, name).await?,
        }
        Ok(())
    }

    /// Forgets one variable (`scope` and `owner` as [`scope_key`] gives them).
    pub(crate) async fn forget_var(self, bot: i64, scope: &str, owner: i64, name: &str) -> Result<()> {
        const SQL: &str = "DELETE FROM variables WHERE bot_id = $1 AND scope = $2 AND owner_id = $3 AND name = $4";
        on!(self, c => sqlx::query(SQL).bind(bot).bind(scope).bind(owner).bind(name).execute(c).await?.rows_affected());
        Ok(())
    }

    pub(crate) async fn load_next_run(self, bot: u64, job: &str) -> Result<Option<u64>> {
        const SQL: &str = "SELECT next_run_at FROM job_runs WHERE bot_id = $1 AND job = $2";
        let bot = int("bot id", bot)?;
        let at: Option<i64> = on!(self, c => sqlx::query_scalar(SQL).bind(bot).bind(job).fetch_optional(c).await?);
        at.map(|at| uint("next run time", at)).transpose()
    }

    pub(crate) async fn save_next_run(self, bot: u64, job: &str, at: Option<u64>) -> Result<()> {
        const SET: &str = "INSERT INTO job_runs (bot_id, job, next_run_at) VALUES ($1, $2, $3) \
             ON CONFLICT (bot_id, job) DO UPDATE SET next_run_at = excluded.next_run_at";
        const FORGET: &str = "DELETE FROM job_runs WHERE bot_id = $1 AND job = $2";
        let bot = int("bot id", bot)?;
        match at {
            Some(at) => {
                let at = int("next run time", at)?;
                on!(self, c => sqlx::query(SET).bind(bot).bind(job).bind(at).execute(c).await?.rows_affected());
            }
            None => {
                on!(self, c => sqlx::query(FORGET).bind(bot).bind(job).execute(c).await?.rows_affected());
            }
        }
        Ok(())
    }

    pub(crate) async fn claim_next_run(
        self,
        bot: u64,
        job: &str,
        expected: Option<u64>,
        next: Option<u64>,
    ) -> Result<bool> {
        // Each case is one statement, atomic on both backends: of concurrent claimers that saw
        // the same `expected`, the first to write changes the row and the others match nothing.
        const MOVE: &str = "UPDATE job_runs SET next_run_at = $4 WHERE bot_id = $1 AND job = $2 AND next_run_at = $3";
        const FORGET: &str = "DELETE FROM job_runs WHERE bot_id = $1 AND job = $2 AND next_run_at = $3";
        const CREATE: &str =
            "INSERT INTO job_runs (bot_id, job, next_run_at) VALUES ($1, $2, $3) ON CONFLICT (bot_id, job) DO NOTHING";
        const ABSENT: &str = "SELECT COUNT(*) FROM job_runs WHERE bot_id = $1 AND job = $2";
        let bot = int("bot id", bot)?;
        let expected = expected.map(|at| int("next run time", at)).transpose()?;
        let next = next.map(|at| int("next run time", at)).transpose()?;
        let changed = match (expected, next) {
            (Some(expected), Some(next)) => on!(self, c => sqlx::query(MOVE)
                .bind(bot).bind(job).bind(expected).bind(next)
                .execute(c).await?.rows_affected()),
            (Some(expected), None) => {
                on!(self, c => sqlx::query(FORGET).bind(bot).bind(job).bind(expected).execute(c).await?.rows_affected())
            }
            (None, Some(next)) => {
                on!(self, c => sqlx::query(CREATE).bind(bot).bind(job).bind(next).execute(c).await?.rows_affected())
            }
            (None, None) => {
                let count: i64 = on!(self, c => sqlx::query_scalar(ABSENT).bind(bot).bind(job).fetch_one(c).await?);
                u64::from(count == 0)
            }
        };
        Ok(changed == 1)
    }

    pub(crate) async fn inbox_put(self, bot: u64, update_id: i64, raw: &str) -> Result<Received> {
        let bot = int("bot id", bot)?;
        let received = self.inbox_put_rows(bot, &[(update_id, raw.to_owned())], now()).await?;
        Ok(received[0])
    }

    pub(crate) async fn inbox_take_unhandled(self, bot: u64, limit: u32) -> Result<Vec<InboxUpdate>> {
        const SQL: &str = "SELECT update_id, raw, received_at, attempts FROM inbox \
             WHERE bot_id = $1 AND handled_at IS NULL ORDER BY update_id LIMIT $2";
        let bot = int("bot id", bot)?;
        let rows: Vec<(i64, String, i64, i64)> =
            on!(self, c => sqlx::query_as(SQL).bind(bot).bind(i64::from(limit)).fetch_all(c).await?);
        Ok(rows
            .into_iter()
            .map(|(update_id, raw, received_at, attempts)| InboxUpdate {
                update_id,
                raw,
                received_at,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            })
            .collect())
    }

    pub(crate) async fn inbox_count_attempts(self, bot: u64, update_ids: &[i64]) -> Result<()> {
        let bot = int("bot id", bot)?;
        on!(self, c => for chunk in update_ids.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "UPDATE inbox SET attempts = attempts + 1 \
                 WHERE bot_id = $1 AND handled_at IS NULL AND update_id IN ({})",
                list(2, chunk.len()));
            let mut query = sqlx::query(&sql).bind(bot);
            for update_id in chunk {
                query = query.bind(update_id);
            }
            query.execute(&mut *c).await?;
        });
        Ok(())
    }

    pub(crate) async fn dead_letters(self, bot: Option<u64>, limit: u32) -> Result<Vec<StoredDeadLetter>> {
        const SQL: &str = "SELECT id, bot_id, update_id, chat_id, raw, reason, attempts, failed_at FROM dead_letters \
             WHERE $1 IS NULL OR bot_id = $1 ORDER BY id LIMIT $2";
        let bot = bot.map(|bot| int("bot id", bot)).transpose()?;
        let rows: Vec<DeadLetterRow> =
            on!(self, c => sqlx::query_as(SQL).bind(bot).bind(i64::from(limit)).fetch_all(c).await?);
        rows.into_iter().map(dead_letter).collect()
    }

    /// The dead letter `id`, if there is one.
    pub(crate) async fn dead_letter(self, id: i64) -> Result<Option<StoredDeadLetter>> {
        const SQL: &str =
            "SELECT id, bot_id, update_id, chat_id, raw, reason, attempts, failed_at FROM dead_letters WHERE id = $1";
        let row: Option<DeadLetterRow> = on!(self, c => sqlx::query_as(SQL).bind(id).fetch_optional(c).await?);
        row.map(dead_letter).transpose()
    }

    pub(crate) async fn dead_letter_discard(self, id: i64) -> Result<bool> {
        const SQL: &str = "DELETE FROM dead_letters WHERE id = $1";
        Ok(on!(self, c => sqlx::query(SQL).bind(id).execute(c).await?.rows_affected()) == 1)
    }

    /// Puts `raw` back in the inbox as the unhandled update `update_id` with no attempts, unless
    /// an unhandled update with other content holds the id; returns whether it was put.
    pub(crate) async fn inbox_put_back(self, bot: i64, update_id: i64, raw: &str) -> Result<bool> {
        const SQL: &str = "INSERT INTO inbox (bot_id, update_id, raw, received_at, attempts) VALUES ($1, $2, $3, $4, 0) \
             ON CONFLICT (bot_id, update_id) DO UPDATE SET raw = excluded.raw, received_at = excluded.received_at, \
             handled_at = NULL, attempts = 0 WHERE inbox.handled_at IS NOT NULL OR inbox.raw = excluded.raw";
        let changed = on!(self, c => sqlx::query(SQL)
            .bind(bot).bind(update_id).bind(raw).bind(now())
            .execute(c).await?.rows_affected());
        Ok(changed == 1)
    }

    /// Sets updates aside: `(bot, letter)`.
    pub(crate) async fn dead_letter_rows(self, rows: &[(i64, &DeadLetter)], now: i64) -> Result<()> {
        on!(self, c => for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO dead_letters (bot_id, update_id, chat_id, raw, reason, attempts, failed_at) VALUES {}",
                tuples(1, 7, chunk.len()));
            let mut query = sqlx::query(&sql);
            for (bot, letter) in chunk {
                query = query.bind(bot).bind(letter.update_id).bind(letter.chat_id).bind(&letter.raw)
                    .bind(&letter.reason).bind(i64::from(letter.attempts)).bind(now);
            }
            query.execute(&mut *c).await?;
        });
        Ok(())
    }

    pub(crate) async fn inbox_mark_handled(self, bot: u64, update_id: i64) -> Result<bool> {
        const SQL: &str =
            "UPDATE inbox SET handled_at = $3 WHERE bot_id = $1 AND update_id = $2 AND handled_at IS NULL";
        let bot = int("bot id", bot)?;
        let changed =
            on!(self, c => sqlx::query(SQL).bind(bot).bind(update_id).bind(now()).execute(c).await?.rows_affected());
        Ok(changed == 1)
    }

    pub(crate) async fn inbox_hourly(self, bot: u64, since: i64, hours: u32) -> Result<Vec<i64>> {
        const SQL: &str = "SELECT (received_at - $2) / 3600 AS hour, COUNT(*) FROM inbox \
             WHERE bot_id = $1 AND received_at >= $2 GROUP BY hour";
        let bot = int("bot id", bot)?;
        let rows: Vec<(i64, i64)> = on!(self, c => sqlx::query_as(SQL).bind(bot).bind(since).fetch_all(c).await?);
        let mut counts = vec![0; hours as usize];
        for (hour, count) in rows {
            if let Some(slot) = usize::try_from(hour).ok().and_then(|h| counts.get_mut(h)) {
                *slot += count;
            }
        }
        Ok(counts)
    }

    pub(crate) async fn known_users(self, bot: u64, limit: u32) -> Result<Vec<Value>> {
        const SQL: &str = "SELECT user_id, first_name, last_name, username, language_code, first_seen, last_seen \
             FROM bot_users WHERE bot_id = $1 ORDER BY last_seen DESC, user_id LIMIT $2";
        type Row = (i64, String, Option<String>, Option<String>, Option<String>, i64, i64);
        let bot = int("bot id", bot)?;
        let rows: Vec<Row> = on!(self, c => sqlx::query_as(SQL).bind(bot).bind(i64::from(limit)).fetch_all(c).await?);
        Ok(rows
            .into_iter()
            .map(|(id, first_name, last_name, username, language_code, first_seen, last_seen)| {
                serde_json::json!({
                    "id": id, "first_name": first_name, "last_name": last_name, "username": username,
                    "language_code": language_code, "first_seen": first_seen, "last_seen": last_seen,
                })
            })
            .collect())
    }

    pub(crate) async fn bot_users_page(
        self,
        bot: u64,
        search: Option<&str>,
        blocked: Option<bool>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Value>> {
        // `$3` is the search as typed (matched against the id), `$4` its LIKE pattern (lower
        // case, wildcards escaped) matched against the names and the username; `$6` is -1 for
        // every user, 1 for the blocked ones, 0 for the others.
        const SQL: &str = "SELECT u.user_id, u.first_name, u.last_name, u.username, u.language_code, u.first_seen, \
             u.last_seen, b.blocked_at, b.blocked_by FROM bot_users u \
             LEFT JOIN blocked_users b ON b.bot_id = u.bot_id AND b.user_id = u.user_id \
             WHERE u.bot_id = $1 AND u.user_id > $2 AND ($3 = '' \
             OR LOWER(u.first_name || ' ' || COALESCE(u.last_name, '')) LIKE $4 ESCAPE '\\' \
             OR LOWER(COALESCE(u.username, '')) LIKE $4 ESCAPE '\\' \
             OR CAST(u.user_id AS TEXT) = $3) \
             AND ($6 < 0 OR (CASE WHEN b.user_id IS NULL THEN 0 ELSE 1 END) = $6) \
             ORDER BY u.user_id LIMIT $5";
        let bot = int("bot id", bot)?;
        let search = search.map(str::trim).unwrap_or_default();
        let escaped = search.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        let pattern = format!("%{}%", escaped.trim_start_matches('@'));
        let blocked: i64 = blocked.map_or(-1, i64::from);
        let rows: Vec<BlockedUserRow> = on!(self, c => sqlx::query_as(SQL)
            .bind(bot).bind(after).bind(search).bind(&pattern).bind(i64::from(limit)).bind(blocked)
            .fetch_all(c).await?);
        Ok(rows.into_iter().map(blocked_user_value).collect())
    }

    pub(crate) async fn bot_user(self, bot: u64, user: i64) -> Result<Option<Value>> {
        const SQL: &str = "SELECT u.user_id, u.first_name, u.last_name, u.username, u.language_code, u.first_seen, \
             u.last_seen, b.blocked_at, b.blocked_by FROM bot_users u \
             LEFT JOIN blocked_users b ON b.bot_id = u.bot_id AND b.user_id = u.user_id \
             WHERE u.bot_id = $1 AND u.user_id = $2";
        let bot = int("bot id", bot)?;
        let row: Option<BlockedUserRow> =
            on!(self, c => sqlx::query_as(SQL).bind(bot).bind(user).fetch_optional(c).await?);
        Ok(row.map(blocked_user_value))
    }

    pub(crate) async fn inbox_prune(self, bot: u64, handled_before: u64) -> Result<u64> {
        const SQL: &str = "DELETE FROM inbox WHERE bot_id = $1 AND handled_at IS NOT NULL AND handled_at < $2 \
             AND update_id < (SELECT MAX(update_id) FROM inbox WHERE bot_id = $1)";
        let bot = int("bot id", bot)?;
        let before = int("time", handled_before)?;
        Ok(on!(self, c => sqlx::query(SQL).bind(bot).bind(before).execute(c).await?.rows_affected()))
    }

    pub(crate) async fn outbox_push(self, bot: u64, outgoing: &Outgoing) -> Result<i64> {
        const SQL: &str = "INSERT INTO outbox (bot_id, chat_id, method, params, bulk, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
        let bot = int("bot id", bot)?;
        let params = serde_json::to_string(&outgoing.params)?;
        let Outgoing { chat_id, method, bulk, .. } = outgoing;
        Ok(on!(self, c => sqlx::query_scalar(SQL)
            .bind(bot).bind(chat_id).bind(method).bind(&params).bind(bulk).bind(now())
            .fetch_one(c).await?))
    }

    pub(crate) async fn outbox_pending(self, bot: u64, limit: u32) -> Result<Vec<PendingSend>> {
        const SQL: &str = "SELECT id, chat_id, method, params, bulk FROM outbox WHERE bot_id = $1 ORDER BY id LIMIT $2";
        let bot = int("bot id", bot)?;
        let rows: Vec<(i64, i64, String, String, bool)> =
            on!(self, c => sqlx::query_as(SQL).bind(bot).bind(i64::from(limit)).fetch_all(c).await?);
        rows.into_iter()
            .map(|(id, chat_id, method, params, bulk)| {
                let params = serde_json::from_str(&params)?;
                Ok(PendingSend { id, outgoing: Outgoing { chat_id, method, params, bulk } })
            })
            .collect()
    }

    pub(crate) async fn bots_with_work(self) -> Result<Vec<u64>> {
        // Both read through their (bot_id, …) indexes (`inbox_unhandled` is partial on the
        // unhandled rows).
        const SQL: &str = "SELECT DISTINCT bot_id FROM inbox WHERE handled_at IS NULL \
             UNION SELECT DISTINCT bot_id FROM outbox";
        let rows: Vec<(i64,)> = on!(self, c => sqlx::query_as(SQL).fetch_all(c).await?);
        rows.into_iter().map(|(bot,)| uint("bot id", bot)).collect()
    }

    pub(crate) async fn outbox_forget(self, bot: u64, id: i64) -> Result<bool> {
        const SQL: &str = "DELETE FROM outbox WHERE bot_id = $1 AND id = $2";
        let bot = int("bot id", bot)?;
        let deleted = on!(self, c => sqlx::query(SQL).bind(bot).bind(id).execute(c).await?.rows_affected());
        Ok(deleted == 1)
    }

    // The group commit's multi-row statements (decision 0020): each takes the rows of a whole
    // batch, deduplicated by key where it upserts (PostgreSQL refuses an `ON CONFLICT DO UPDATE`
    // that touches one row twice), and writes them `ROWS_PER_STATEMENT` at a time.

    /// Stores received updates `(update id, raw)` of `bot`: what became of each, in order, by
    /// the one rule [`Received::of`] (a later copy of an update in `rows` is a redelivery). One
    /// statement reads the rows the ids already have, one inserts the new ones; an id reused
    /// for other content (rare: the ids restarted) is rewritten with one statement each.
    pub(crate) async fn inbox_put_rows(self, bot: i64, rows: &[(i64, String)], now: i64) -> Result<Vec<Received>> {
        let mut held: HashMap<i64, (String, bool)> = HashMap::new();
        let mut ids: Vec<i64> = rows.iter().map(|(update_id, _)| *update_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut received = Vec::with_capacity(rows.len());
        on!(self, c => {
            for chunk in ids.chunks(ROWS_PER_STATEMENT) {
                let sql = format!(
                    "SELECT update_id, raw, handled_at FROM inbox WHERE bot_id = $1 AND update_id IN ({})",
                    list(2, chunk.len()));
                let mut query = sqlx::query_as(&sql).bind(bot);
                for update_id in chunk {
                    query = query.bind(update_id);
                }
                let found: Vec<(i64, String, Option<i64>)> = query.fetch_all(&mut *c).await?;
                held.extend(found.into_iter().map(|(update_id, raw, handled)| (update_id, (raw, handled.is_some()))));
            }
            let (mut new, mut reused) = (Vec::new(), Vec::new());
            for (index, (update_id, raw)) in rows.iter().enumerate() {
                let outcome = Received::of(held.get(update_id).map(|(raw, handled)| (raw.as_str(), *handled)), raw);
                match outcome {
                    Received::New => new.push(index),
                    Received::Reused => reused.push(index),
                    Received::Redelivered | Received::Busy => {}
                }
                if outcome.is_stored() {
                    held.insert(*update_id, (raw.clone(), false));
                }
                received.push(outcome);
            }
            for chunk in new.chunks(ROWS_PER_STATEMENT) {
                let sql = format!(
                    "INSERT INTO inbox (bot_id, update_id, raw, received_at, attempts) VALUES {} \
                     ON CONFLICT (bot_id, update_id) DO NOTHING RETURNING update_id",
                    tuples(1, 5, chunk.len()));
                let mut query = sqlx::query_scalar(&sql);
                for &index in chunk {
                    let (update_id, raw) = &rows[index];
                    query = query.bind(bot).bind(update_id).bind(raw).bind(now).bind(1_i64);
                }
                let stored: std::collections::HashSet<i64> = query.fetch_all(&mut *c).await?.into_iter().collect();
                // Another writer stored an id first (a second process): it is theirs to handle.
                for &index in chunk {
                    if !stored.contains(&rows[index].0) {
                        received[index] = Received::Redelivered;
                    }
                }
            }
            for index in reused {
                const SQL: &str = "UPDATE inbox SET raw = $3, received_at = $4, handled_at = NULL, attempts = 1 \
                     WHERE bot_id = $1 AND update_id = $2 AND handled_at IS NOT NULL";
                let (update_id, raw) = &rows[index];
                let changed = sqlx::query(SQL).bind(bot).bind(update_id).bind(raw).bind(now)
                    .execute(&mut *c).await?.rows_affected();
                if changed == 0 {
                    received[index] = Received::Busy;
                }
            }
        });
        Ok(received)
    }

    /// Saves (replaces) chats' conversation states: `(bot, chat, state as JSON)`.
    pub(crate) async fn save_chats(self, rows: &[(i64, i64, String)], now: i64) -> Result<()> {
        const CONFLICT: &str = " ON CONFLICT (bot_id, chat_id) DO UPDATE SET \
             state = excluded.state, updated_at = excluded.updated_at";
        on!(self, c => for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let sql = format!("INSERT INTO chat_states (bot_id, chat_id, state, updated_at) VALUES {}{CONFLICT}",
                tuples(1, 4, chunk.len()));
            let mut query = sqlx::query(&sql);
            for (bot, chat, state) in chunk {
                query = query.bind(bot).bind(chat).bind(state).bind(now);
            }
            query.execute(&mut *c).await?;
        });
        Ok(())
    }

    /// Sets variables: `(bot, scope, owner, name, value as JSON)`.
    pub(crate) async fn set_vars(self, rows: &[(i64, &str, i64, &str, String)], now: i64) -> Result<()> {
        const CONFLICT: &str = " ON CONFLICT (bot_id, scope, owner_id, name) DO UPDATE SET \
             value = excluded.value, updated_at = excluded.updated_at";
        on!(self, c => for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO variables (bot_id, scope, owner_id, name, value, updated_at) VALUES {}{CONFLICT}",
                tuples(1, 6, chunk.len()));
            let mut query = sqlx::query(&sql);
            for (bot, scope, owner, name, value) in chunk {
                query = query.bind(bot).bind(scope).bind(owner).bind(name).bind(value).bind(now);
            }
            query.execute(&mut *c).await?;
        });
        Ok(())
    }

    /// Queues Bot API calls `(bot, call, params as JSON)`; returns their ids in the order given.
    pub(crate) async fn outbox_push_rows(self, rows: &[(i64, &Outgoing, String)], now: i64) -> Result<Vec<i64>> {
        // `RETURNING` promises no order, but the rows are inserted in `ORDER BY` order and ids
        // only grow, so the sorted ids are the rows' in turn.
        let mut ids = Vec::with_capacity(rows.len());
        on!(self, c => for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO outbox (bot_id, chat_id, method, params, bulk, created_at) \
                 SELECT column1, column2, column3, column4, column5, column6 FROM (VALUES {}) AS v \
                 ORDER BY column7 RETURNING id",
                tuples(1, 7, chunk.len()));
            let mut query = sqlx::query_scalar(&sql);
            for (order, (bot, outgoing, params)) in (0_i64..).zip(chunk) {
                query = query.bind(bot).bind(outgoing.chat_id).bind(&outgoing.method).bind(params)
                    .bind(outgoing.bulk).bind(now).bind(order);
            }
            let mut chunk_ids: Vec<i64> = query.fetch_all(&mut *c).await?;
            chunk_ids.sort_unstable();
            ids.extend(chunk_ids);
        });
        Ok(ids)
    }

    /// Marks updates `(bot, update id)` handled (those not handled yet).
    pub(crate) async fn inbox_mark_handled_rows(self, rows: &[(i64, i64)], now: i64) -> Result<()> {
        // A join with the rows, not `(bot_id, update_id) IN (VALUES …)`, which SQLite answers
        // by scanning the table (and the `IN (SELECT …)` form deletes too little from `outbox`
        // on sqlx's SQLite 3.46); both backends search the primary key for each row.
        on!(self, c => for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "UPDATE inbox SET handled_at = $1 FROM (VALUES {}) AS v \
                 WHERE inbox.bot_id = v.column1 AND inbox.update_id = v.column2 AND inbox.handled_at IS NULL",
                tuples(2, 2, chunk.len()));
            let mut query = sqlx::query(&sql).bind(now);
            for (bot, update_id) in chunk {
                query = query.bind(bot).bind(update_id);
            }
            query.execute(&mut *c).await?;
        });
        Ok(())
    }

    /// Forgets delivered calls `(bot, outbox id)`.
    pub(crate) async fn outbox_forget_rows(self, rows: &[(i64, i64)]) -> Result<()> {
        // SQLite has no `DELETE … USING`: the rows to delete are found by a join, as above.
        on!(self, c => for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "DELETE FROM outbox WHERE id IN (SELECT o.id FROM outbox AS o \
                 JOIN (VALUES {}) AS v ON o.bot_id = v.column1 AND o.id = v.column2)",
                tuples(1, 2, chunk.len()));
            let mut query = sqlx::query(&sql);
            for (bot, id) in chunk {
                query = query.bind(bot).bind(id);
            }
            query.execute(&mut *c).await?;
        });
        Ok(())
    }

    /// Adds or refreshes users in their bots' directories.
    pub(crate) async fn remember_users(self, rows: &[((i64, i64), UserRecord)], now: i64) -> Result<()> {
        const CONFLICT: &str = " ON CONFLICT (bot_id, user_id) DO UPDATE SET \
             first_name = excluded.first_name, last_name = excluded.last_name, username = excluded.username, \
             language_code = excluded.language_code, last_seen = excluded.last_seen";
        on!(self, c => for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO bot_users (bot_id, user_id, first_name, last_name, username, language_code, \
                 first_seen, last_seen) VALUES {}{CONFLICT}",
                tuples(1, 8, chunk.len()));
            let mut query = sqlx::query(&sql);
            for ((bot, id), user) in chunk {
                query = query.bind(bot).bind(id).bind(&user.first_name).bind(&user.last_name)
                    .bind(&user.username).bind(&user.language_code).bind(now).bind(now);
            }
            query.execute(&mut *c).await?;
        });
        Ok(())
    }

    /// Adds or refreshes chats in their bots' directories.
    pub(crate) async fn remember_chats(self, rows: &[((i64, i64), ChatRecord)], now: i64) -> Result<()> {
        const CONFLICT: &str = " ON CONFLICT (bot_id, chat_id) DO UPDATE SET \
             kind = excluded.kind, title = excluded.title, username = excluded.username, last_seen = excluded.last_seen";
        on!(self, c => for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO bot_chats (bot_id, chat_id, kind, title, username, first_seen, last_seen) VALUES {}{CONFLICT}",
                tuples(1, 7, chunk.len()));
            let mut query = sqlx::query(&sql);
            for ((bot, id), chat) in chunk {
                query = query.bind(bot).bind(id).bind(&chat.kind).bind(&chat.title).bind(&chat.username)
                    .bind(now).bind(now);
            }
            query.execute(&mut *c).await?;
        });
        Ok(())
    }
}
