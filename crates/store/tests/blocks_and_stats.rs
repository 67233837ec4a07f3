//! Blocked users and the daily statistics (decision 0047) on SQLite and PostgreSQL: each case
//! runs on a fresh database of each backend (PostgreSQL skipped loudly when unreachable, unless
//! `FERROGRAM_REQUIRE_POSTGRES=1`; see `tests/common`).

mod common;

use ferrogram_core::{Commit, StateStore, Tally, TallyOutcome};
use ferrogram_store::{DayCounts, Store};
use serde_json::json;

crate::both!(
    blocks_are_kept_listed_and_lifted,
    statistics_add_up_per_bot_and_utc_day,
    a_batch_without_updates_writes_no_statistics,
    active_users_are_pruned_past_the_monthly_window
);

async fn blocks_are_kept_listed_and_lifted(store: Store, _url: String) {
    for (id, name) in [(5, "Ann"), (6, "Bob"), (7, "Cid")] {
        store.remember_user(40, &json!({"id": id, "first_name": name})).await.unwrap();
    }
    assert_eq!(store.block_user(40, 99, "token:1").await.unwrap(), None, "a user the bot never saw");
    assert_eq!(store.block_user(41, 5, "token:1").await.unwrap(), None, "another bot's user");
    let (at, by) = store.block_user(40, 6, "token:1").await.unwrap().expect("blocked");
    assert!(at > 1_700_000_000 && by == "token:1", "{at} {by}");
    // Blocking again keeps the first block.
    assert_eq!(store.block_user(40, 6, "account:2").await.unwrap(), Some((at, "token:1".into())));
    store.block_user(40, 7, "account:2").await.unwrap().expect("blocked");
    assert_eq!(store.blocked_user_ids(40).await.unwrap(), [6, 7]);
    assert_eq!(StateStore::blocked_users(&store, 40).await.unwrap(), [6, 7]);
    assert!(StateStore::blocked_users(&store, 41).await.unwrap().is_empty());

    let ids = |users: Vec<serde_json::Value>| users.iter().map(|u| u["id"].as_i64().unwrap()).collect::<Vec<_>>();
    assert_eq!(ids(store.bot_users_page(40, None, None, i64::MIN, 10).await.unwrap()), [5, 6, 7]);
    assert_eq!(ids(store.bot_users_page(40, None, Some(true), i64::MIN, 10).await.unwrap()), [6, 7]);
    assert_eq!(ids(store.bot_users_page(40, None, Some(false), i64::MIN, 10).await.unwrap()), [5]);
    assert_eq!(ids(store.bot_users_page(40, Some("cid"), Some(true), i64::MIN, 10).await.unwrap()), [7]);
    assert_eq!(ids(store.bot_users_page(40, Some("ann"), Some(true), i64::MIN, 10).await.unwrap()), Vec::<i64>::new());
    let bob = store.bot_user(40, 6).await.unwrap().unwrap();
    assert_eq!(
        (&bob["blocked"], &bob["blocked_at"], &bob["blocked_by"]),
        (&json!(true), &json!(at), &json!("token:1"))
    );
    let ann = store.bot_user(40, 5).await.unwrap().unwrap();
    assert_eq!((&ann["blocked"], &ann["blocked_at"], &ann["blocked_by"]), (&json!(false), &json!(null), &json!(null)));

    assert!(store.unblock_user(40, 6).await.unwrap());
    assert!(!store.unblock_user(40, 6).await.unwrap(), "not blocked any more");
    assert!(!store.unblock_user(40, 5).await.unwrap(), "never blocked");
    assert_eq!(store.blocked_user_ids(40).await.unwrap(), [7]);
    assert_eq!(store.bot_user(40, 6).await.unwrap().unwrap()["blocked"], json!(false));
}

/// A day well in the past: 2024-10-04 (days since 1970-01-01).
const D: i64 = 20_000;

fn handled(bot: u64, update: i64, day: i64, user: i64, outcome: TallyOutcome, latency_ms: Option<u64>) -> Commit {
    // Any second of the day counts for the day.
    let at = day * 86_400 + (update * 3_607) % 86_400;
    Commit {
        bot,
        handled: Some(update),
        tally: Some(Tally { at, user_id: Some(user), outcome, latency_ms }),
        ..Commit::default()
    }
}

fn latency(buckets: &[(usize, u64)]) -> [u64; ferrogram_store::LATENCY_BUCKETS] {
    let mut latency = [0; ferrogram_store::LATENCY_BUCKETS];
    for (index, count) in buckets {
        latency[*index] = *count;
    }
    latency
}

async fn statistics_add_up_per_bot_and_utc_day(store: Store, _url: String) {
    use TallyOutcome::{Blocked, Error, Ok};
    // Two batches: the second adds to the rows the first wrote.
    StateStore::commit(
        &store,
        &[
            handled(1, 1, D, 10, Ok, Some(5)),
            handled(1, 2, D, 10, Ok, Some(40)),
            handled(1, 3, D - 3, 13, Ok, Some(20)),
            handled(2, 1, D, 10, Ok, Some(12)),
        ],
    )
    .await
    .unwrap();
    StateStore::commit(
        &store,
        &[
            handled(1, 4, D, 11, Error, Some(300)),
            // A blocked user's update: counted, not active, no latency.
            handled(1, 5, D, 12, Blocked, None),
            handled(1, 6, D - 10, 14, Ok, Some(1000)),
            // The day before D - 10 ends one second before D - 10 begins.
            Commit {
                bot: 1,
                handled: Some(7),
                tally: Some(Tally { at: (D - 10) * 86_400 - 1, user_id: Some(15), outcome: Ok, latency_ms: Some(1) }),
                ..Commit::default()
            },
        ],
    )
    .await
    .unwrap();

    let stats = store.stats(&[1], D - 9, D).await.unwrap();
    assert_eq!(stats.days.len(), 10);
    assert_eq!(stats.days.first().unwrap().0, D - 9);
    let day = |d: i64| stats.days.iter().find(|(day, _, _)| *day == d).cloned().unwrap();
    let d = day(D);
    assert_eq!(
        d.1,
        DayCounts { updates: 4, blocked: 1, errors: 1, latency: latency(&[(0, 1), (2, 1), (5, 1)]) },
        "5, 40 and 300 ms: buckets ≤10, ≤50, ≤500"
    );
    assert_eq!(d.2, 2, "users 10 and 11 were active; 12 is blocked");
    assert_eq!((d.1.latency_percentile(0.5), d.1.latency_percentile(0.95)), (Some(50), Some(500)));
    assert_eq!(day(D - 3).1, DayCounts { updates: 1, latency: latency(&[(1, 1)]), ..DayCounts::default() });
    assert_eq!(day(D - 3).2, 1);
    assert_eq!(day(D - 1), (D - 1, DayCounts::default(), 0), "a day without updates is zeros");
    let total = stats.total();
    assert_eq!((total.updates, total.blocked, total.errors), (5, 1, 1), "D - 10 is outside the range");
    assert_eq!(stats.active_users, 3, "10, 11, 13");
    assert_eq!(stats.weekly_active_users, 3, "D - 6 to D: 10, 11, 13");
    assert_eq!(stats.monthly_active_users, 5, "D - 29 to D: 10, 11, 13, 14 and 15");

    // Two bots: their counts added up, a user active with both counted once.
    let both = store.stats(&[1, 2], D, D).await.unwrap();
    assert_eq!(both.days.len(), 1);
    assert_eq!(both.days[0].1.updates, 5);
    assert_eq!(both.days[0].2, 2, "user 10 used both bots");
    assert_eq!(both.total().latency_percentile(0.5), Some(25), "5, 12, 40, 300 ms: the second is ≤25");
    let other_day = store.stats(&[1], D - 11, D - 11).await.unwrap();
    assert_eq!((other_day.days[0].1.updates, other_day.days[0].2), (1, 1), "the second before midnight");

    // No bots, or bots without statistics: zeros for every day.
    let none = store.stats(&[], D - 1, D).await.unwrap();
    assert_eq!(none.days, [(D - 1, DayCounts::default(), 0), (D, DayCounts::default(), 0)]);
    assert_eq!(store.stats(&[3], D, D).await.unwrap().total(), DayCounts::default());
}

async fn a_batch_without_updates_writes_no_statistics(store: Store, url: String) {
    StateStore::commit(&store, &[Commit { bot: 1, handled: None, ..Commit::default() }]).await.unwrap();
    let rows = common::raw_text(&url, "SELECT CAST(COUNT(*) AS TEXT) FROM bot_daily_stats").await;
    assert_eq!(rows, "0");
}

async fn active_users_are_pruned_past_the_monthly_window(store: Store, url: String) {
    use TallyOutcome::Ok;
    let mut update = 0;
    let mut commits = Vec::new();
    for (bot, day, user) in [
        (1, D, 10),
        (1, D, 11),
        (1, D - 29, 12),
        (1, D - 30, 13),
        (1, D - 31, 10),
        (1, D - 31, 14),
        (1, D - 31, 15),
        (1, D - 40, 16),
        (2, D - 40, 16),
    ] {
        update += 1;
        commits.push(handled(bot, update, day, user, Ok, Some(5)));
    }
    StateStore::commit(&store, &commits).await.unwrap();
    let rows = |bot: u64| {
        let sql = format!("SELECT CAST(COUNT(*) AS TEXT) FROM bot_active_users WHERE bot_id = {bot}");
        let url = url.clone();
        async move { common::raw_text(&url, &sql).await }
    };
    let month = store.stats(&[1], D - 29, D).await.unwrap();
    assert_eq!(month.monthly_active_users, 3, "10, 11 and 12");
    let old = store.stats(&[1], D - 40, D - 31).await.unwrap();
    assert_eq!(old.active_users, 4, "10, 14, 15 and 16, before the prune");

    // What the engine does on a day D with ACTIVE_USERS_KEEP_DAYS: D - 30 and later are kept.
    assert_eq!(ferrogram_core::ACTIVE_USERS_KEEP_DAYS, 31);
    let pruned = StateStore::active_users_prune(&store, 1, D - ferrogram_core::ACTIVE_USERS_KEEP_DAYS + 1).await;
    assert_eq!(pruned.unwrap(), 4, "D - 31's three and D - 40's one");
    assert_eq!(rows(1).await, "4", "D's two, D - 29's and D - 30's");
    assert_eq!(rows(2).await, "1", "another bot's rows are its own prune's");

    // The monthly window is exact, and the same as before; so is one ending yesterday.
    assert_eq!(store.stats(&[1], D - 29, D).await.unwrap(), month);
    assert_eq!(store.stats(&[1], D - 1, D - 1).await.unwrap().monthly_active_users, 2, "D - 30 to D - 1: 12, 13");
    // A pruned day keeps its count; a distinct count reaching it is at least its busiest day's.
    let after = store.stats(&[1], D - 40, D - 31).await.unwrap();
    let day =
        |d: i64| after.days.iter().find(|(day, _, _)| *day == d).map(|(_, counts, users)| (counts.updates, *users));
    assert_eq!((day(D - 31), day(D - 40), day(D - 35)), (Some((3, 3)), Some((1, 1)), Some((0, 0))));
    assert_eq!(after.total(), old.total(), "the counts of updates are untouched");
    assert_eq!(after.active_users, 3, "at least D - 31's three (16 of D - 40 is no longer told apart)");
    // Pruning again forgets nothing more and keeps the counts (not recounted as 0).
    assert_eq!(StateStore::active_users_prune(&store, 1, D - 30).await.unwrap(), 0);
    assert_eq!(store.stats(&[1], D - 40, D - 31).await.unwrap(), after);
    // Two bots over a pruned day: their counts added up.
    StateStore::active_users_prune(&store, 2, D - 30).await.unwrap();
    let both = store.stats(&[1, 2], D - 40, D - 40).await.unwrap();
    assert_eq!(both.days[0].2, 2, "user 16 of both bots, counted once per bot once its rows are gone");
}
