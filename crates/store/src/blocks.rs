//! A bot's blocked users (`blocked_users`, decision 0047): blocked and unblocked through the
//! API, read by the engine when it adds the bot ([`ferrogram_core::StateStore::blocked_users`]).
//! Only a user the bot has seen (in `bot_users`) can be blocked.

use crate::ops::{Conn, int};
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

impl Conn<'_> {
    pub(crate) async fn block_user(self, bot: u64, user: i64, by: &str) -> Result<Option<(i64, String)>> {
        // A user already blocked keeps when and by whom it was first blocked.
        const BLOCK: &str = "INSERT INTO blocked_users (bot_id, user_id, blocked_at, blocked_by) \
             SELECT bot_id, user_id, $3, $4 FROM bot_users WHERE bot_id = $1 AND user_id = $2 \
             ON CONFLICT (bot_id, user_id) DO NOTHING";
        const READ: &str = "SELECT blocked_at, blocked_by FROM blocked_users WHERE bot_id = $1 AND user_id = $2";
        let bot = int("bot id", bot)?;
        Ok(on!(self, c => {
            sqlx::query(BLOCK).bind(bot).bind(user).bind(now()).bind(by).execute(&mut *c).await?;
            sqlx::query_as(READ).bind(bot).bind(user).fetch_optional(&mut *c).await?
        }))
    }

    pub(crate) async fn unblock_user(self, bot: u64, user: i64) -> Result<bool> {
        const SQL: &str = "DELETE FROM blocked_users WHERE bot_id = $1 AND user_id = $2";
        let bot = int("bot id", bot)?;
        Ok(on!(self, c => sqlx::query(SQL).bind(bot).bind(user).execute(c).await?.rows_affected()) > 0)
    }

    pub(crate) async fn blocked_user_ids(self, bot: u64) -> Result<Vec<i64>> {
        const SQL: &str = "SELECT user_id FROM blocked_users WHERE bot_id = $1 ORDER BY user_id";
        let bot = int("bot id", bot)?;
        Ok(on!(self, c => sqlx::query_scalar(SQL).bind(bot).fetch_all(c).await?))
    }
}

operations! {
    /// Blocks the bot's user `user` (one it has seen), `by` an actor as the audit log names it:
    /// when and by whom it is blocked (the first block's, if it already was); `None` if the bot
    /// has not seen this user (nothing changed).
    fn block_user(bot: u64, user: i64, by: &str) -> Option<(i64, String)>;
    /// Unblocks the user; `false` if it was not blocked.
    fn unblock_user(bot: u64, user: i64) -> bool;
    /// The bot's blocked users, by id.
    fn blocked_user_ids(bot: u64) -> Vec<i64>;
}
