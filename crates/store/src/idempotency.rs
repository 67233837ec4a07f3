//! The REST API's `Idempotency-Key`: the first request with a key (per API token) reserves it,
//! its answer is kept for [`IDEMPOTENCY_TTL`], and a repeat gets that answer again instead of
//! acting twice. A repeat with another request (its hash differs) or while the first is still
//! being answered is told so; keys older than the TTL are forgotten (swept on each reservation
//! of the same token).

use crate::ops::Conn;
use crate::{Result, Store, Transaction, now};

/// How long a key's answer is kept: 24 hours, in seconds.
pub const IDEMPOTENCY_TTL: i64 = 24 * 60 * 60;

/// What [`Store::idempotency_begin`] found for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idempotency {
    /// The key is new (or expired): it is now reserved for this request, which must be
    /// finished ([`Store::idempotency_finish`]) or abandoned ([`Store::idempotency_abandon`]).
    New,
    /// The same request was answered: its status and body.
    Replay { status: u16, body: String },
    /// The key was used for another request (its hash differs).
    Mismatch,
    /// The first request with the key is still being answered.
    InFlight,
}

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
    pub(crate) async fn idempotency_begin(self, token: i64, key: &str, request_hash: &str) -> Result<Idempotency> {
        const SWEEP: &str = "DELETE FROM idempotency_keys WHERE token_id = $1 AND created_at < $2";
        const RESERVE: &str = "INSERT INTO idempotency_keys (token_id, key, request_hash, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (token_id, key) DO NOTHING";
        const FIND: &str =
            "SELECT request_hash, status, response FROM idempotency_keys WHERE token_id = $1 AND key = $2";
        let at = now();
        on!(self, c => {
            sqlx::query(SWEEP).bind(token).bind(at - IDEMPOTENCY_TTL).execute(&mut *c).await?;
            let reserved = sqlx::query(RESERVE).bind(token).bind(key).bind(request_hash).bind(at)
                .execute(&mut *c).await?.rows_affected();
            if reserved == 1 {
                return Ok(Idempotency::New);
            }
            let row: Option<(String, Option<i32>, Option<String>)> =
                sqlx::query_as(FIND).bind(token).bind(key).fetch_optional(&mut *c).await?;
            Ok(match row {
                // Swept between the two statements by a concurrent request: treat as in flight.
                None => Idempotency::InFlight,
                Some((hash, _, _)) if hash != request_hash => Idempotency::Mismatch,
                Some((_, Some(status), Some(body))) => {
                    Idempotency::Replay { status: u16::try_from(status).unwrap_or(500), body }
                }
                Some(_) => Idempotency::InFlight,
            })
        })
    }

    pub(crate) async fn idempotency_finish(self, token: i64, key: &str, status: u16, body: &str) -> Result<()> {
        const SQL: &str = "UPDATE idempotency_keys SET status = $3, response = $4 WHERE token_id = $1 AND key = $2";
        on!(self, c => sqlx::query(SQL).bind(token).bind(key).bind(i32::from(status)).bind(body).execute(c).await?.rows_affected());
        Ok(())
    }

    pub(crate) async fn idempotency_abandon(self, token: i64, key: &str) -> Result<()> {
        const SQL: &str = "DELETE FROM idempotency_keys WHERE token_id = $1 AND key = $2 AND status IS NULL";
        on!(self, c => sqlx::query(SQL).bind(token).bind(key).execute(c).await?.rows_affected());
        Ok(())
    }
}

operations! {
    /// Reserves `key` for the token's request hashed `request_hash`, or tells what it already
    /// holds (see [`Idempotency`]).
    fn idempotency_begin(token: i64, key: &str, request_hash: &str) -> Idempotency;
    /// Keeps the answer of the request that reserved `key`, for its repeats.
    fn idempotency_finish(token: i64, key: &str, status: u16, body: &str) -> ();
    /// Frees a reserved key whose request was not answered (a server error), so that it can
    /// be retried; a finished key is left alone.
    fn idempotency_abandon(token: i64, key: &str) -> ();
}
