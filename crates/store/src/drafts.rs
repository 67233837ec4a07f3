//! A bot's draft (decision 0056): at most one per bot, the file the dashboard's editor saved,
//! which may be invalid, kept apart from its published versions. Each save bumps its
//! `revision`; a save names the revision it was made from and is refused (`None`) when another
//! save came first, so two editors are told instead of overwriting each other. Revision 0 is
//! "no draft yet": the first save must name it. Publishing a draft is the caller's (it checks
//! the file, then [`Store::publish_version`]); the draft stays as it is.
//!
//! Like the rest of the tenancy, every call names the caller's workspace and matches it in the
//! same statement: a bot of another workspace has no draft and cannot get one.

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

/// A bot's draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotDraft {
    pub source: String,
    /// 1, 2, 3… per save.
    pub revision: i64,
    /// Unix seconds of the last save.
    pub updated_at: i64,
    /// Who saved it last (`account:ID`, `token:ID`).
    pub updated_by: String,
}

impl Conn<'_> {
    pub(crate) async fn draft(self, workspace: i64, bot: i64) -> Result<Option<BotDraft>> {
        const SQL: &str = "SELECT d.source, d.revision, d.updated_at, d.updated_by FROM bot_drafts d \
             JOIN bots b ON b.id = d.bot_id WHERE b.workspace_id = $1 AND b.id = $2";
        let row: Option<(String, i64, i64, String)> =
            on!(self, c => sqlx::query_as(SQL).bind(workspace).bind(bot).fetch_optional(c).await?);
        Ok(row.map(|(source, revision, updated_at, updated_by)| BotDraft { source, revision, updated_at, updated_by }))
    }

    pub(crate) async fn save_draft(
        self,
        workspace: i64,
        bot: i64,
        revision: i64,
        source: &str,
        author: &str,
    ) -> Result<Option<i64>> {
        // The first save inserts revision 1 unless a draft exists; a later one updates only the
        // revision it was made from.
        const FIRST: &str = "INSERT INTO bot_drafts (bot_id, source, revision, updated_at, updated_by) \
             SELECT b.id, $3, 1, $4, $5 FROM bots b WHERE b.workspace_id = $1 AND b.id = $2 \
             ON CONFLICT (bot_id) DO NOTHING RETURNING revision";
        const NEXT: &str = "UPDATE bot_drafts SET source = $3, revision = revision + 1, updated_at = $4, \
             updated_by = $5 WHERE revision = $6 \
             AND bot_id = (SELECT b.id FROM bots b WHERE b.workspace_id = $1 AND b.id = $2) RETURNING revision";
        let at = now();
        Ok(if revision == 0 {
            on!(self, c => sqlx::query_scalar(FIRST)
                .bind(workspace).bind(bot).bind(source).bind(at).bind(author)
                .fetch_optional(c).await?)
        } else {
            on!(self, c => sqlx::query_scalar(NEXT)
                .bind(workspace).bind(bot).bind(source).bind(at).bind(author).bind(revision)
                .fetch_optional(c).await?)
        })
    }
}

operations! {
    /// The bot's draft, `None` when it has none or is not the workspace's.
    fn draft(workspace: i64, bot: i64) -> Option<BotDraft>;
    /// Saves the bot's draft if its revision is still `revision` (0: it has none yet), by
    /// `author`; returns the new revision, `None` when another save came first or the bot is not
    /// the workspace's (nothing changed).
    fn save_draft(workspace: i64, bot: i64, revision: i64, source: &str, author: &str) -> Option<i64>;
}
