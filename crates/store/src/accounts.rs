//! Accounts: the people who sign in to the dashboard, their roles in workspaces (memberships),
//! their sessions and the one-time setup and invite links (decision 0042).
//!
//! Passwords are kept as argon2id PHC strings (the `argon2` crate's default parameters), hashed
//! off the async threads. A session's secret (the cookie) and a link's secret are 256 random
//! bits kept as their SHA-256 only, like API tokens; a session's CSRF token is derived from its
//! secret ([`csrf_token`]), so it is never stored and the database alone cannot forge it.
//! Sessions slide: each use moves their expiry to `lifetime` from now, never past
//! [`SESSION_MAX_AGE`] from their creation.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash as Phc, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ops::Conn;
use crate::tenancy::{Role, role, token_hash};
use crate::{Error, Result, Store, Transaction, now};

/// Runs `$body` with `$c` bound to the backend's connection (as in `ops`).
macro_rules! on {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            Conn::Sqlite($c) => $body,
            Conn::Postgres($c) => $body,
        }
    };
}

/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password accepted, in bytes (hashing cost must not be the client's choice).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// No session outlives this (seconds from its creation), however often it is used: 30 days.
pub const SESSION_MAX_AGE: i64 = 30 * 24 * 3600;
/// A session's user agent is kept to this many characters.
const MAX_USER_AGENT_CHARS: usize = 256;

/// A person who signs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    /// As given at creation; unique without regard to case.
    pub email: String,
    pub display_name: String,
    pub created_at: i64,
    /// Set: the account cannot sign in and has no session.
    pub disabled_at: Option<i64>,
}

/// An argon2id hash of a password that met the rules, as a PHC string: made by
/// [`hash_password`], the only way to give an account a password.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// The PHC string (`$argon2id$v=19$m=…`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(…)")
    }
}

/// One workspace an account belongs to, with its role there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub workspace: i64,
    pub workspace_name: String,
    pub role: Role,
}

/// One member of a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub account: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
}

/// A freshly opened session: the only time its secret exists outside the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedSession {
    pub id: i64,
    /// The cookie's value: 43 base64url characters (32 random bytes).
    pub secret: String,
    /// The session's CSRF token ([`csrf_token`] of the secret).
    pub csrf: String,
}

/// Who a valid session speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionAccess {
    pub session: i64,
    pub account: Account,
    /// The token forms and `X-CSRF-Token` must carry for a change.
    pub csrf: String,
    pub expires_at: i64,
}

/// A live session as its owner sees it in a list (never its secret nor its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub user_agent: String,
}

/// What a one-time link does when used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// Creates the first account, owner of the workspaces (only while there is no account).
    Setup,
    /// Creates an account with `role` in `workspace`.
    Invite { workspace: i64, role: Role },
}

/// A freshly made link: the only time its secret exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedLink {
    pub id: i64,
    /// The link's last path segment: 43 base64url characters (32 random bytes).
    pub secret: String,
    pub expires_at: i64,
}

/// A link that was valid when read (or used).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountLink {
    pub id: i64,
    pub kind: LinkKind,
    pub created_at: i64,
    pub expires_at: i64,
}

/// 32 random bytes from the operating system, base64url without padding (43 characters).
fn random_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| Error::Refused(format!("no secure random numbers: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The CSRF token of the session whose secret is `session_secret`: the SHA-256 of a label and
/// the secret, base64url. Whoever holds the cookie can compute it, nobody else can (the database
/// keeps another hash of the secret).
pub fn csrf_token(session_secret: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(b"ferrogram csrf\0");
    digest.update(session_secret.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.finalize())
}

/// Whether `given` is the session's CSRF token, compared in constant time.
pub fn csrf_matches(expected: &str, given: &str) -> bool {
    bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// What is wrong with `password` for an account, if anything.
pub fn password_problem(password: &str) -> Option<String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Some(format!("a password has at least {MIN_PASSWORD_CHARS} characters"));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Some(format!("a password has at most {MAX_PASSWORD_BYTES} bytes"));
    }
    None
}

/// Hashes a password with argon2id (default parameters, a random 16-byte salt) on a blocking
/// thread; refused (`Error::Refused`) when it breaks [`password_problem`]'s rules.
pub async fn hash_password(password: &str) -> Result<PasswordHash> {
    if let Some(problem) = password_problem(password) {
        return Err(Error::Refused(problem));
    }
    let password = password.to_owned();
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| Error::Refused(format!("no secure random numbers: {e}")))?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Refused(format!("password salt: {e}")))?;
        let phc = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| Error::Refused(format!("password hashing: {e}")))?;
        Ok(PasswordHash(phc.to_string()))
    })
    .await
    .map_err(|e| Error::Refused(format!("password hashing stopped: {e}")))?
}

/// Whether `password` matches the PHC string `stored` (a malformed one matches nothing), on a
/// blocking thread.
async fn password_matches(stored: String, password: &str) -> bool {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        Phc::new(&stored).is_ok_and(|phc| Argon2::default().verify_password(password.as_bytes(), &phc).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// A hash of a password nobody knows, checked when the email is unknown so that the answer
/// takes as long as for a known one.
fn decoy_hash() -> String {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY
        .get_or_init(|| {
            let salt = SaltString::encode_b64(b"ferrogram-decoy!").expect("16 bytes encode");
            Argon2::default().hash_password(b"no account has this password", &salt).expect("hashing").to_string()
        })
        .clone()
}

/// The address as given (trimmed), and its lower-cased key; refused unless it looks like one.
fn email_and_key(email: &str) -> Result<(String, String)> {
    let email = email.trim();
    let valid = (3..=254).contains(&email.len())
        && email.split('@').count() == 2
        && email.split('@').all(|part| !part.is_empty())
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        return Err(Error::Refused(format!("`{email}` is not an email address")));
    }
    Ok((email.to_owned(), email.to_lowercase()))
}

fn display_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::Refused("a name has 1 to 100 characters, none of them control characters".into()));
    }
    Ok(name.to_owned())
}

type AccountRow = (i64, String, String, i64, Option<i64>);
type LinkRow = (i64, String, Option<i64>, Option<String>, i64, i64);

fn account((id, email, display_name, created_at, disabled_at): AccountRow) -> Account {
    Account { id, email, display_name, created_at, disabled_at }
}

fn link((id, kind, workspace, role_text, created_at, expires_at): LinkRow) -> Result<AccountLink> {
    let kind = match (kind.as_str(), workspace, role_text) {
        ("setup", _, _) => LinkKind::Setup,
        ("invite", Some(workspace), Some(text)) => LinkKind::Invite { workspace, role: role(&text)? },
        (other, ..) => return Err(Error::Refused(format!("stored link {id} is of unknown kind `{other}`"))),
    };
    Ok(AccountLink { id, kind, created_at, expires_at })
}

const ACCOUNT_COLUMNS: &str = "id, email, display_name, created_at, disabled_at";
const LINK_COLUMNS: &str = "id, kind, workspace_id, role, created_at, expires_at";

impl Conn<'_> {
    pub(crate) async fn create_account(
        self,
        email: &str,
        name: &str,
        password: &PasswordHash,
    ) -> Result<Option<Account>> {
        let (email, key) = email_and_key(email)?;
        let name = display_name(name)?;
        let sql = format!(
            "INSERT INTO accounts (email, email_key, display_name, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email_key) DO NOTHING RETURNING {ACCOUNT_COLUMNS}"
        );
        let row: Option<AccountRow> = on!(self, c => sqlx::query_as(&sql)
            .bind(&email).bind(&key).bind(&name).bind(password.as_str()).bind(now())
            .fetch_optional(c).await?);
        Ok(row.map(account))
    }

    pub(crate) async fn account(self, id: i64) -> Result<Option<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1");
        let row: Option<AccountRow> = on!(self, c => sqlx::query_as(&sql).bind(id).fetch_optional(c).await?);
        Ok(row.map(account))
    }

    pub(crate) async fn account_by_email(self, email: &str) -> Result<Option<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE email_key = $1");
        let key = email.trim().to_lowercase();
        let row: Option<AccountRow> = on!(self, c => sqlx::query_as(&sql).bind(&key).fetch_optional(c).await?);
        Ok(row.map(account))
    }

    pub(crate) async fn accounts(self) -> Result<Vec<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY id");
        let rows: Vec<AccountRow> = on!(self, c => sqlx::query_as(&sql).fetch_all(c).await?);
        Ok(rows.into_iter().map(account).collect())
    }

    pub(crate) async fn account_count(self) -> Result<i64> {
        const SQL: &str = "SELECT COUNT(*) FROM accounts";
        Ok(on!(self, c => sqlx::query_scalar(SQL).fetch_one(c).await?))
    }

    pub(crate) async fn verify_password(self, email: &str, password: &str) -> Result<Option<Account>> {
        const SQL: &str = "SELECT id, email, display_name, created_at, disabled_at, password_hash \
             FROM accounts WHERE email_key = $1";
        let key = email.trim().to_lowercase();
        let row: Option<(i64, String, String, i64, Option<i64>, String)> =
            on!(self, c => sqlx::query_as(SQL).bind(&key).fetch_optional(c).await?);
        let Some((id, email, display_name, created_at, disabled_at, stored)) = row else {
            // An unknown address costs the same hashing as a known one.
            password_matches(decoy_hash(), password).await;
            return Ok(None);
        };
        let matches = password.len() <= MAX_PASSWORD_BYTES && password_matches(stored, password).await;
        Ok((matches && disabled_at.is_none()).then(|| account((id, email, display_name, created_at, disabled_at))))
    }

    pub(crate) async fn set_password(self, id: i64, password: &PasswordHash) -> Result<bool> {
        const SQL: &str = "UPDATE accounts SET password_hash = $2 WHERE id = $1";
        let changed =
            on!(self, c => sqlx::query(SQL).bind(id).bind(password.as_str()).execute(c).await?.rows_affected());
        Ok(changed == 1)
    }

    pub(crate) async fn set_account_disabled(self, id: i64, disabled: bool) -> Result<bool> {
        const SQL: &str = "UPDATE accounts SET disabled_at = $2 WHERE id = $1";
        const SIGN_OUT: &str = "DELETE FROM sessions WHERE account_id = $1";
        let at = disabled.then(now);
        on!(self, c => {
            let changed = sqlx::query(SQL).bind(id).bind(at).execute(&mut *c).await?.rows_affected();
            if disabled {
                sqlx::query(SIGN_OUT).bind(id).execute(&mut *c).await?;
            }
            Ok(changed == 1)
        })
    }

    pub(crate) async fn set_member(self, workspace: i64, account: i64, role: Role) -> Result<bool> {
        // The account and the workspace must exist: inserting from them makes a missing one a
        // `false`, not an error.
        const SQL: &str = "INSERT INTO memberships (account_id, workspace_id, role, created_at) \
             SELECT a.id, w.id, $3, $4 FROM accounts a, workspaces w WHERE a.id = $1 AND w.id = $2 \
             ON CONFLICT (account_id, workspace_id) DO UPDATE SET role = excluded.role";
        const OWNERS: &str = "SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner' \
             AND account_id <> $2";
        const CURRENT: &str = "SELECT role FROM memberships WHERE workspace_id = $1 AND account_id = $2";
        on!(self, c => {
            let current: Option<String> = sqlx::query_scalar(CURRENT).bind(workspace).bind(account).fetch_optional(&mut *c).await?;
            if current.as_deref() == Some("owner") && role != Role::Owner {
                let others: i64 = sqlx::query_scalar(OWNERS).bind(workspace).bind(account).fetch_one(&mut *c).await?;
                if others == 0 {
                    return Err(Error::Refused("this is the workspace's last owner: make another member owner first".into()));
                }
            }
            let changed = sqlx::query(SQL).bind(account).bind(workspace).bind(role.as_str()).bind(now())
                .execute(&mut *c).await?.rows_affected();
            Ok(changed == 1)
        })
    }

    pub(crate) async fn remove_member(self, workspace: i64, account: i64) -> Result<bool> {
        const SQL: &str = "DELETE FROM memberships WHERE workspace_id = $1 AND account_id = $2 \
             AND (role <> 'owner' OR (SELECT COUNT(*) FROM memberships m \
                  WHERE m.workspace_id = $1 AND m.role = 'owner') > 1)";
        const EXISTS: &str = "SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND account_id = $2";
        on!(self, c => {
            let removed = sqlx::query(SQL).bind(workspace).bind(account).execute(&mut *c).await?.rows_affected();
            if removed == 1 {
                return Ok(true);
            }
            let left: i64 = sqlx::query_scalar(EXISTS).bind(workspace).bind(account).fetch_one(&mut *c).await?;
            if left > 0 {
                return Err(Error::Refused("this is the workspace's last owner: make another member owner first".into()));
            }
            Ok(false)
        })
    }

    pub(crate) async fn memberships(self, account: i64) -> Result<Vec<Membership>> {
        const SQL: &str = "SELECT w.id, w.name, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id \
             WHERE m.account_id = $1 ORDER BY w.id";
        let rows: Vec<(i64, String, String)> = on!(self, c => sqlx::query_as(SQL).bind(account).fetch_all(c).await?);
        rows.into_iter()
            .map(|(workspace, workspace_name, text)| Ok(Membership { workspace, workspace_name, role: role(&text)? }))
            .collect()
    }

    pub(crate) async fn members(self, workspace: i64) -> Result<Vec<Member>> {
        const SQL: &str = "SELECT a.id, a.email, a.display_name, m.role FROM memberships m \
             JOIN accounts a ON a.id = m.account_id WHERE m.workspace_id = $1 ORDER BY a.id";
        let rows: Vec<(i64, String, String, String)> =
            on!(self, c => sqlx::query_as(SQL).bind(workspace).fetch_all(c).await?);
        rows.into_iter()
            .map(|(account, email, display_name, text)| Ok(Member { account, email, display_name, role: role(&text)? }))
            .collect()
    }

    pub(crate) async fn create_session(
        self,
        account: i64,
        user_agent: &str,
        lifetime: i64,
    ) -> Result<Option<IssuedSession>> {
        const PRUNE: &str = "DELETE FROM sessions WHERE account_id = $1 AND expires_at <= $2";
        const SQL: &str = "INSERT INTO sessions (token_hash, account_id, created_at, last_seen_at, expires_at, user_agent) \
             SELECT $1, a.id, $3, $3, $4, $5 FROM accounts a WHERE a.id = $2 AND a.disabled_at IS NULL RETURNING id";
        let secret = random_secret()?;
        let hash = token_hash(&secret);
        let at = now();
        let expires = at + lifetime.clamp(0, SESSION_MAX_AGE);
        let agent: String = user_agent.chars().filter(|c| !c.is_control()).take(MAX_USER_AGENT_CHARS).collect();
        let id: Option<i64> = on!(self, c => {
            sqlx::query(PRUNE).bind(account).bind(at).execute(&mut *c).await?;
            sqlx::query_scalar(SQL).bind(&hash).bind(account).bind(at).bind(expires).bind(&agent)
                .fetch_optional(&mut *c).await?
        });
        Ok(id.map(|id| IssuedSession { id, csrf: csrf_token(&secret), secret }))
    }

    pub(crate) async fn session(self, secret: &str, lifetime: i64) -> Result<Option<SessionAccess>> {
        const FIND: &str = "SELECT s.id, s.token_hash, s.created_at, s.last_seen_at, s.expires_at, \
             a.id, a.email, a.display_name, a.created_at, a.disabled_at \
             FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.token_hash = $1";
        const FORGET: &str = "DELETE FROM sessions WHERE id = $1";
        // At most one write a minute per session, not one per request.
        const SLIDE: &str = "UPDATE sessions SET last_seen_at = $2, expires_at = $3 WHERE id = $1";
        type Row = (i64, String, i64, i64, i64, i64, String, String, i64, Option<i64>);
        let hash = token_hash(secret);
        let at = now();
        on!(self, c => {
            let row: Option<Row> = sqlx::query_as(FIND).bind(&hash).fetch_optional(&mut *c).await?;
            let Some((id, stored, created_at, last_seen_at, expires_at, account_id, email, name, account_created, disabled_at)) = row
            else {
                return Ok(None);
            };
            if !bool::from(stored.as_bytes().ct_eq(hash.as_bytes())) {
                return Ok(None);
            }
            if expires_at <= at || disabled_at.is_some() {
                sqlx::query(FORGET).bind(id).execute(&mut *c).await?;
                return Ok(None);
            }
            let mut expires_at = expires_at;
            if at - last_seen_at >= 60 {
                expires_at = (at + lifetime.max(0)).min(created_at + SESSION_MAX_AGE);
                sqlx::query(SLIDE).bind(id).bind(at).bind(expires_at).execute(&mut *c).await?;
            }
            let account = account((account_id, email, name, account_created, disabled_at));
            Ok(Some(SessionAccess { session: id, account, csrf: csrf_token(secret), expires_at }))
        })
    }

    pub(crate) async fn sessions(self, account: i64) -> Result<Vec<SessionInfo>> {
        const SQL: &str = "SELECT id, created_at, last_seen_at, expires_at, user_agent FROM sessions \
             WHERE account_id = $1 AND expires_at > $2 ORDER BY last_seen_at DESC, id DESC";
        let rows: Vec<(i64, i64, i64, i64, String)> =
            on!(self, c => sqlx::query_as(SQL).bind(account).bind(now()).fetch_all(c).await?);
        Ok(rows
            .into_iter()
            .map(|(id, created_at, last_seen_at, expires_at, user_agent)| SessionInfo {
                id,
                created_at,
                last_seen_at,
                expires_at,
                user_agent,
            })
            .collect())
    }

    pub(crate) async fn revoke_session(self, account: i64, session: i64) -> Result<bool> {
        const SQL: &str = "DELETE FROM sessions WHERE account_id = $1 AND id = $2";
        let removed = on!(self, c => sqlx::query(SQL).bind(account).bind(session).execute(c).await?.rows_affected());
        Ok(removed == 1)
    }

    pub(crate) async fn revoke_sessions(self, account: i64, except: Option<i64>) -> Result<u64> {
        // Session ids start at 1: 0 excepts none.
        const SQL: &str = "DELETE FROM sessions WHERE account_id = $1 AND id <> $2";
        Ok(on!(self, c => sqlx::query(SQL).bind(account).bind(except.unwrap_or(0)).execute(c).await?.rows_affected()))
    }

    pub(crate) async fn create_link(self, kind: LinkKind, lifetime: i64) -> Result<Option<IssuedLink>> {
        const SQL: &str = "INSERT INTO account_links (token_hash, kind, workspace_id, role, created_at, expires_at) \
             SELECT $1, $2, $3, $4, $5, $6 WHERE $3 IS NULL OR EXISTS (SELECT 1 FROM workspaces WHERE id = $3) \
             RETURNING id";
        let (text, workspace, role_text) = match kind {
            LinkKind::Setup => ("setup", None, None),
            LinkKind::Invite { workspace, role } => ("invite", Some(workspace), Some(role.as_str())),
        };
        let secret = random_secret()?;
        let hash = token_hash(&secret);
        let at = now();
        let expires_at = at + lifetime.max(0);
        let id: Option<i64> = on!(self, c => sqlx::query_scalar(SQL)
            .bind(&hash).bind(text).bind(workspace).bind(role_text).bind(at).bind(expires_at)
            .fetch_optional(c).await?);
        Ok(id.map(|id| IssuedLink { id, secret, expires_at }))
    }

    pub(crate) async fn link(self, secret: &str) -> Result<Option<AccountLink>> {
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM account_links WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2"
        );
        let hash = token_hash(secret);
        let row: Option<LinkRow> =
            on!(self, c => sqlx::query_as(&sql).bind(&hash).bind(now()).fetch_optional(c).await?);
        row.map(link).transpose()
    }

    pub(crate) async fn use_link(self, secret: &str) -> Result<Option<AccountLink>> {
        let sql = format!(
            "UPDATE account_links SET used_at = $2 \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING {LINK_COLUMNS}"
        );
        let hash = token_hash(secret);
        let row: Option<LinkRow> =
            on!(self, c => sqlx::query_as(&sql).bind(&hash).bind(now()).fetch_optional(c).await?);
        row.map(link).transpose()
    }
}

operations! {
    /// Creates an account; `None` if one with this email (in any case) exists. Refused
    /// (`Error::Refused`) when the email does not look like one or the name is empty or longer
    /// than 100 characters. It belongs to no workspace yet ([`Store::set_member`]).
    fn create_account(email: &str, name: &str, password: &PasswordHash) -> Option<Account>;
    /// The account, if it exists.
    fn account(id: i64) -> Option<Account>;
    /// The account of this email, compared without regard to case.
    fn account_by_email(email: &str) -> Option<Account>;
    /// Every account, oldest first: the operator's listing.
    fn accounts() -> Vec<Account>;
    /// How many accounts there are (0: the server offers its setup link).
    fn account_count() -> i64;
    /// The account whose email and password these are, if it is not disabled; `None` otherwise,
    /// after the same argon2 work whether or not the email is known.
    fn verify_password(email: &str, password: &str) -> Option<Account>;
    /// Replaces the account's password (its sessions stay: revoke them as well if that is the
    /// point); `false` if there is no such account.
    fn set_password(account: i64, password: &PasswordHash) -> bool;
    /// Disables the account (and ends all its sessions) or enables it again; `false` if there
    /// is no such account.
    fn set_account_disabled(account: i64, disabled: bool) -> bool;
    /// Makes the account a member of the workspace with `role`, or changes its role; `false` if
    /// the account or the workspace does not exist. Refused when it would leave the workspace
    /// without an owner.
    fn set_member(workspace: i64, account: i64, role: Role) -> bool;
    /// Removes the account from the workspace; `false` if it was not a member. Refused for the
    /// workspace's last owner.
    fn remove_member(workspace: i64, account: i64) -> bool;
    /// The workspaces the account belongs to, with its role in each, in workspace order.
    fn memberships(account: i64) -> Vec<Membership>;
    /// The workspace's members, oldest account first.
    fn members(workspace: i64) -> Vec<Member>;
    /// Opens a session for the account, expiring `lifetime` seconds from now (at most
    /// [`SESSION_MAX_AGE`]); its secret is returned this once. `None` if the account does not
    /// exist or is disabled. The account's expired sessions are forgotten.
    fn create_session(account: i64, user_agent: &str, lifetime: i64) -> Option<IssuedSession>;
    /// The account a live session speaks for; `None` if the secret is unknown, the session
    /// expired (then it is forgotten) or the account is disabled. A use more than a minute after
    /// the last recorded one slides the expiry to `lifetime` from now (capped at
    /// [`SESSION_MAX_AGE`] from the session's creation).
    fn session(secret: &str, lifetime: i64) -> Option<SessionAccess>;
    /// The account's live sessions, most recently used first.
    fn sessions(account: i64) -> Vec<SessionInfo>;
    /// Ends one of the account's sessions; `false` if it has no such session.
    fn revoke_session(account: i64, session: i64) -> bool;
    /// Ends every session of the account but `except` ("sign out everywhere"); returns how many.
    fn revoke_sessions(account: i64, except: Option<i64>) -> u64;
    /// Makes a one-time link valid for `lifetime` seconds; its secret is returned this once.
    /// `None` for an invite to a workspace that does not exist.
    fn create_link(kind: LinkKind, lifetime: i64) -> Option<IssuedLink>;
    /// The link, if it is unused and unexpired (without using it: to show its form).
    fn link(secret: &str) -> Option<AccountLink>;
    /// Uses the link: `Some` once, for the first caller while it is unused and unexpired,
    /// `None` ever after. In a [`Transaction`] with what it creates, a failure later leaves it
    /// unused.
    fn use_link(secret: &str) -> Option<AccountLink>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_and_keyed_without_case() {
        assert_eq!(email_and_key(" Ann@Example.ORG ").unwrap(), ("Ann@Example.ORG".into(), "ann@example.org".into()));
        assert_eq!(email_and_key("Юля@Пример.рф").unwrap().1, "юля@пример.рф");
        for bad in ["", "ann", "@x", "a@", "a@b@c", "a b@c", "a\n@b"] {
            assert!(email_and_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn csrf_tokens_differ_per_session_and_from_the_stored_hash() {
        let (a, b) = (random_secret().unwrap(), random_secret().unwrap());
        assert_ne!(csrf_token(&a), csrf_token(&b));
        assert_ne!(csrf_token(&a), token_hash(&a));
        assert!(csrf_matches(&csrf_token(&a), &csrf_token(&a)));
        assert!(!csrf_matches(&csrf_token(&a), ""));
    }

    #[test]
    fn password_rules() {
        assert!(password_problem("short").is_some());
        assert!(password_problem("двенадцать!!").is_none(), "characters, not bytes");
        assert!(password_problem(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_some());
    }
}
