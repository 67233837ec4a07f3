//! Broadcasts (decision 0048): a message sent to a bot's users by the server's broadcast
//! runner, with each recipient's progress kept here so that a restart resumes where it stopped
//! and never sends anyone the message twice.
//!
//! A broadcast is `scheduled` until its time, then *started*: its audience (resolved by the
//! caller) becomes its recipient rows and it is `running`; `paused` and `cancelled` stop the
//! runner from claiming more; it is `done` once no recipient is pending. A recipient is
//! `pending`, then `sending` — recorded before its call is made, as the outbox records a call
//! before it is sent —, then `sent`, `failed` or `blocked`. A recipient found `sending` when the
//! runner starts was in flight at a crash: it is not sent again ([`Store::broadcasts_interrupted`]).
//!
//! The API's reads and changes take the caller's workspace and bot and match them in the same
//! statement (another workspace's broadcast looks like none); the runner's take none.

use crate::ops::Conn;
use crate::{Result, Store, Transaction, now};

/// Runs `$body` with `$c` bound to the backend's connection (as in `ops`).
macro_rules! on {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            Conn::Sqlite($c) => $body,
            Conn::Postgres($c) => $body,
        }
    };
}

/// A broadcast as stored, with its recipients counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broadcast {
    pub id: i64,
    pub workspace: i64,
    /// The bot's id in the store (`bots.id`).
    pub bot: i64,
    /// The message, as the API took it (JSON).
    pub message: String,
    /// The audience, as the API took it (JSON).
    pub audience: String,
    /// `scheduled`, `running`, `paused`, `cancelled` or `done`.
    pub state: String,
    /// When it starts (Unix seconds).
    pub scheduled_at: i64,
    /// Recipients, once started.
    pub total: Option<i64>,
    /// Why it ended without sending (its audience could not be resolved at its start).
    pub error: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub sent: i64,
    pub failed: i64,
    pub blocked: i64,
}

impl Broadcast {
    /// Recipients not yet settled (pending, or being sent).
    pub fn pending(&self) -> i64 {
        self.total.map_or(0, |total| total - self.sent - self.failed - self.blocked)
    }
}

/// How one recipient's send ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// Refused for good, or failed after it may have reached Telegram.
    Failed,
    /// Telegram's 403: the user blocked the bot (or cannot be written to).
    Blocked,
}

impl Delivery {
    fn as_str(self) -> &'static str {
        match self {
            Delivery::Sent => "sent",
            Delivery::Failed => "failed",
            Delivery::Blocked => "blocked",
        }
    }
}

type Row = (
    i64,
    i64,
    i64,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<String>,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    i64,
    i64,
    i64,
);

const COLUMNS: &str = "b.id, b.workspace_id, b.bot_id, b.message, b.audience, b.state, b.scheduled_at, b.total, \
     b.error, b.created_by, b.created_at, b.started_at, b.finished_at, \
     (SELECT COUNT(*) FROM broadcast_recipients r WHERE r.broadcast_id = b.id AND r.state = 'sent'), \
     (SELECT COUNT(*) FROM broadcast_recipients r WHERE r.broadcast_id = b.id AND r.state = 'failed'), \
     (SELECT COUNT(*) FROM broadcast_recipients r WHERE r.broadcast_id = b.id AND r.state = 'blocked')";

fn broadcast(row: Row) -> Broadcast {
    let (id, workspace, bot, message, audience, state, scheduled_at, total, error, created_by, created_at) =
        (row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9, row.10);
    Broadcast {
        id,
        workspace,
        bot,
        message,
        audience,
        state,
        scheduled_at,
        total,
        error,
        created_by,
        created_at,
        started_at: row.11,
        finished_at: row.12,
        sent: row.13,
        failed: row.14,
        blocked: row.15,
    }
}

/// The states a broadcast may be cancelled from.
const CANCELLABLE: &str = "('scheduled', 'running', 'paused')";

impl Conn<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn broadcast_create(
        self,
        workspace: i64,
        bot: i64,
        message: &str,
        audience: &str,
        scheduled_at: i64,
        created_by: &str,
    ) -> Result<Option<i64>> {
        const SQL: &str = "INSERT INTO broadcasts (workspace_id, bot_id, message, audience, state, scheduled_at, \
             created_by, created_at) SELECT b.workspace_id, b.id, $3, $4, 'scheduled', $5, $6, $7 FROM bots b \
             WHERE b.workspace_id = $1 AND b.id = $2 RETURNING id";
        Ok(on!(self, c => sqlx::query_scalar(SQL)
            .bind(workspace).bind(bot).bind(message).bind(audience).bind(scheduled_at).bind(created_by).bind(now())
            .fetch_optional(c).await?))
    }

    pub(crate) async fn broadcast(self, workspace: i64, bot: i64, id: i64) -> Result<Option<Broadcast>> {
        let sql =
            format!("SELECT {COLUMNS} FROM broadcasts b WHERE b.workspace_id = $1 AND b.bot_id = $2 AND b.id = $3");
        let row: Option<Row> =
            on!(self, c => sqlx::query_as(&sql).bind(workspace).bind(bot).bind(id).fetch_optional(c).await?);
        Ok(row.map(broadcast))
    }

    pub(crate) async fn broadcasts_page(
        self,
        workspace: i64,
        bot: i64,
        state: Option<&str>,
        before: i64,
        limit: u32,
    ) -> Result<Vec<Broadcast>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM broadcasts b WHERE b.workspace_id = $1 AND b.bot_id = $2 AND b.id < $3 \
             AND ($4 IS NULL OR b.state = $4) ORDER BY b.id DESC LIMIT $5"
        );
        let rows: Vec<Row> = on!(self, c => sqlx::query_as(&sql)
            .bind(workspace).bind(bot).bind(before).bind(state).bind(i64::from(limit))
            .fetch_all(c).await?);
        Ok(rows.into_iter().map(broadcast).collect())
    }

    pub(crate) async fn broadcast_transition(self, workspace: i64, bot: i64, id: i64, to: &str) -> Result<bool> {
        let from = match to {
            "paused" => "('running')",
            "running" => "('paused')",
            "cancelled" => CANCELLABLE,
            _ => return Ok(false),
        };
        let sql = format!(
            "UPDATE broadcasts SET state = $4, finished_at = CASE WHEN $4 = 'cancelled' THEN $5 ELSE finished_at END \
             WHERE workspace_id = $1 AND bot_id = $2 AND id = $3 AND state IN {from}"
        );
        let changed = on!(self, c => sqlx::query(&sql)
            .bind(workspace).bind(bot).bind(id).bind(to).bind(now())
            .execute(c).await?.rows_affected());
        Ok(changed == 1)
    }

    pub(crate) async fn broadcasts_due(self, at: i64) -> Result<Vec<Broadcast>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM broadcasts b WHERE b.state = 'scheduled' AND b.scheduled_at <= $1 ORDER BY b.id"
        );
        let rows: Vec<Row> = on!(self, c => sqlx::query_as(&sql).bind(at).fetch_all(c).await?);
        Ok(rows.into_iter().map(broadcast).collect())
    }

    pub(crate) async fn broadcasts_running(self) -> Result<Vec<Broadcast>> {
        let sql = format!("SELECT {COLUMNS} FROM broadcasts b WHERE b.state = 'running' ORDER BY b.id");
        let rows: Vec<Row> = on!(self, c => sqlx::query_as(&sql).fetch_all(c).await?);
        Ok(rows.into_iter().map(broadcast).collect())
    }

    pub(crate) async fn broadcast_begin(self, id: i64, total: i64, error: Option<&str>) -> Result<bool> {
        // No recipient (or no audience): nothing to send, it is over at once.
        const SQL: &str = "UPDATE broadcasts SET state = CASE WHEN $2 = 0 THEN 'done' ELSE 'running' END, \
             total = $2, error = $3, started_at = $4, finished_at = CASE WHEN $2 = 0 THEN $4 ELSE NULL END \
             WHERE id = $1 AND state = 'scheduled'";
        let changed = on!(self, c => sqlx::query(SQL)
            .bind(id).bind(total).bind(error).bind(now()).execute(c).await?.rows_affected());
        Ok(changed == 1)
    }

    pub(crate) async fn broadcast_add_recipients(self, id: i64, chats: &[i64]) -> Result<()> {
        on!(self, c => {
            for chunk in chats.chunks(500) {
                let values = (0..chunk.len()).map(|i| format!("($1, ${}, 'pending')", i + 2)).collect::<Vec<_>>();
                let sql = format!(
                    "INSERT INTO broadcast_recipients (broadcast_id, chat_id, state) VALUES {} \
                     ON CONFLICT (broadcast_id, chat_id) DO NOTHING",
                    values.join(", ")
                );
                let mut query = sqlx::query(&sql).bind(id);
                for chat in chunk {
                    query = query.bind(*chat);
                }
                query.execute(&mut *c).await?;
            }
        });
        Ok(())
    }

    pub(crate) async fn broadcast_claim(self, id: i64, limit: u32) -> Result<Vec<i64>> {
        const SQL: &str = "UPDATE broadcast_recipients SET state = 'sending' \
             WHERE broadcast_id = $1 AND state = 'pending' AND chat_id IN (SELECT r.chat_id FROM broadcast_recipients r \
             JOIN broadcasts b ON b.id = r.broadcast_id \
             WHERE r.broadcast_id = $1 AND r.state = 'pending' AND b.state = 'running' ORDER BY r.chat_id LIMIT $2) \
             RETURNING chat_id";
        let mut chats: Vec<i64> =
            on!(self, c => sqlx::query_scalar(SQL).bind(id).bind(i64::from(limit)).fetch_all(c).await?);
        chats.sort_unstable();
        Ok(chats)
    }

    pub(crate) async fn broadcast_settle(
        self,
        id: i64,
        chat: i64,
        delivery: Delivery,
        error: Option<&str>,
    ) -> Result<()> {
        const SQL: &str = "UPDATE broadcast_recipients SET state = $3, error = $4 \
             WHERE broadcast_id = $1 AND chat_id = $2 AND state = 'sending'";
        on!(self, c => sqlx::query(SQL).bind(id).bind(chat).bind(delivery.as_str()).bind(error).execute(c).await?.rows_affected());
        Ok(())
    }

    pub(crate) async fn broadcast_release(self, id: i64, chat: i64) -> Result<()> {
        const SQL: &str = "UPDATE broadcast_recipients SET state = 'pending' \
             WHERE broadcast_id = $1 AND chat_id = $2 AND state = 'sending'";
        on!(self, c => sqlx::query(SQL).bind(id).bind(chat).execute(c).await?.rows_affected());
        Ok(())
    }

    pub(crate) async fn broadcast_finish(self, id: i64) -> Result<bool> {
        const SQL: &str = "UPDATE broadcasts SET state = 'done', finished_at = $2 WHERE id = $1 AND state = 'running' \
             AND NOT EXISTS (SELECT 1 FROM broadcast_recipients r WHERE r.broadcast_id = $1 \
             AND r.state IN ('pending', 'sending'))";
        let changed = on!(self, c => sqlx::query(SQL).bind(id).bind(now()).execute(c).await?.rows_affected());
        Ok(changed == 1)
    }

    pub(crate) async fn broadcasts_interrupted(self) -> Result<u64> {
        const SQL: &str = "UPDATE broadcast_recipients SET state = 'failed', \
             error = 'interrupted by a restart while being sent: it may have been delivered, so it is not repeated' \
             WHERE state = 'sending'";
        Ok(on!(self, c => sqlx::query(SQL).execute(c).await?.rows_affected()))
    }
}

operations! {
    /// Records a broadcast of the workspace's bot, `scheduled` at `scheduled_at` (the runner
    /// starts it then); returns its id, `None` if the bot is not the workspace's.
    fn broadcast_create(workspace: i64, bot: i64, message: &str, audience: &str, scheduled_at: i64, created_by: &str) -> Option<i64>;
    /// One broadcast of the workspace's bot, with its counts.
    fn broadcast(workspace: i64, bot: i64, id: i64) -> Option<Broadcast>;
    /// The bot's broadcasts with an id below `before`, newest first, of one state if given.
    fn broadcasts_page(workspace: i64, bot: i64, state: Option<&str>, before: i64, limit: u32) -> Vec<Broadcast>;
    /// Moves a broadcast to `to` from the states it may come from: `paused` from `running`,
    /// `running` (a resume) from `paused`, `cancelled` from any but `done` and `cancelled`.
    /// `false` when it was in no such state (or is not the workspace's bot's).
    fn broadcast_transition(workspace: i64, bot: i64, id: i64, to: &str) -> bool;
    /// Every workspace's `scheduled` broadcasts whose time has come (the runner's).
    fn broadcasts_due(at: i64) -> Vec<Broadcast>;
    /// Every workspace's `running` broadcasts (the runner's).
    fn broadcasts_running() -> Vec<Broadcast>;
    /// Starts a `scheduled` broadcast with `total` recipients (added in the same transaction by
    /// [`Store::broadcast_add_recipients`]): `running`, or `done` at once when there are none
    /// (`error` says why, if it is because the audience could not be resolved). `false` when it
    /// was no longer scheduled (cancelled meanwhile).
    fn broadcast_begin(id: i64, total: i64, error: Option<&str>) -> bool;
    /// Adds recipients (`pending`); one already there is left as it is.
    fn broadcast_add_recipients(id: i64, chats: &[i64]) -> ();
    /// Marks up to `limit` pending recipients of a `running` broadcast `sending` and returns them,
    /// lowest chat id first: recorded before anything is sent to them.
    fn broadcast_claim(id: i64, limit: u32) -> Vec<i64>;
    /// Records how a `sending` recipient's send ended.
    fn broadcast_settle(id: i64, chat: i64, delivery: Delivery, error: Option<&str>) -> ();
    /// Puts a `sending` recipient back to `pending`: nothing was sent (the bot stopped, or
    /// Telegram asked to wait longer than the scheduler waits).
    fn broadcast_release(id: i64, chat: i64) -> ();
    /// Marks a `running` broadcast `done` when no recipient is pending or being sent.
    fn broadcast_finish(id: i64) -> bool;
    /// At the runner's start: the recipients left `sending` (in flight at a crash or a kill)
    /// become `failed`, never sent again; returns how many.
    fn broadcasts_interrupted() -> u64;
}
