//! Export and import of one bot as a JSON document, and backups of a SQLite database.
//!
//! An export holds the bot's dashboard record (if it has one), its saved bot-file versions and
//! every row of every table in [`BOT_TABLES`] under its id:
//!
//! ```json
//! {"ferrogram_export": 1,
//!  "bot": {"id": 1234, "record": {"name": "…", "workspace": "…", "telegram_id": 1234, "created_at": 0}},
//!  "versions": [{"version": 1, "source": "…", "created_at": 0}],
//!  "tables": {"chat_states": [{"chat_id": 1, "state": "…", "updated_at": 0}], …}}
//! ```
//!
//! The bot's secrets (its token) are left out, unless asked for
//! ([`Store::export_bot_with_secrets`]): then `"secrets": [{"name": "token", "value": "…"}]`
//! holds them in clear, for an import to seal again under its own database's key.
//!
//! Rows are JSON objects of their columns (the `bot_id` column left out), read and written
//! through the columns each database reports, so a table added to [`BOT_TABLES`] needs no
//! other code. Rows are sorted by their values, so exporting the same data from SQLite or
//! PostgreSQL gives the same document. Integers and reals are JSON numbers, text is a string,
//! booleans are booleans and blobs are base64 strings.

use std::cmp::Ordering;
use std::path::Path;

use base64::Engine as _;
use serde_json::{Map, Value, json};
use sqlx::{Row, TypeInfo, ValueRef};

use ferrogram_core::sandbox_bot_id;

use crate::ops::Conn;
use crate::secret_key::{check_name, check_value};
use crate::{Error, Pool, Result, SecretKey, Store, StoredStatus};

/// The version of the export document this build writes and reads (`"ferrogram_export"`).
pub const EXPORT_FORMAT: i64 = 1;

/// Every table whose rows belong to one bot through its `bot_id` column (the engine's id),
/// with the columns left out of exports because the database numbers them afresh on import
/// (the outbox's ids only order its rows; the export keeps that order). Exports, imports and
/// `--replace` cover exactly these tables: a new table keyed by `bot_id` is one more line here
/// (a test fails until it is).
pub const BOT_TABLES: &[(&str, &[&str])] = &[
    ("chat_states", &[]),
    ("variables", &[]),
    ("job_runs", &[]),
    ("inbox", &[]),
    ("outbox", &["id"]),
    ("subscriptions", &[]),
    ("bot_users", &[]),
    ("bot_chats", &[]),
    ("collection_ids", &[]),
    ("records", &[]),
    ("record_values", &[]),
    ("record_terms", &[]),
    ("dead_letters", &["id"]),
    ("blocked_users", &[]),
    ("bot_daily_stats", &[]),
    ("bot_active_users", &[]),
];

/// Tables with a `bot_id` column that are not a bot's data rows: `bot_versions`, `secrets` and
/// `bot_statuses` (the supervisor's last status, not exported)
/// are keyed by the dashboard's bot id; the versions travel in the export's `versions`, the
/// secrets in its `secrets` only when asked for. `broadcasts` (decision 0048) are the
/// workspace's sends through the bot, keyed by the dashboard's bot id too, and not exported.
/// `bot_drafts` (decision 0056), the editor's unpublished file, is neither.
pub(crate) const NOT_BOT_TABLES: &[&str] = &["bot_versions", "secrets", "bot_statuses", "broadcasts", "bot_drafts"];

const PG_BACKUP: &str = "backups of PostgreSQL are made with its own tools: \
     `pg_dump --format=custom --file=ferrogram.dump DATABASE_URL` (restore with `pg_restore`)";

/// Snapshots the SQLite database at `url` into a new file at `path` with `VACUUM INTO`: a
/// consistent copy (one read transaction) taken while the server keeps writing. PostgreSQL is
/// refused, without connecting, with a pointer to `pg_dump`.
pub async fn backup(url: &str, path: &Path) -> Result<()> {
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        return Err(Error::Refused(PG_BACKUP.to_owned()));
    }
    if let Some(file) = url.strip_prefix("sqlite://").filter(|p| !p.starts_with(':')) {
        let file = file.split('?').next().unwrap_or(file);
        if !Path::new(file).exists() {
            return Err(Error::Refused(format!("{file}: no such database file")));
        }
    }
    let store = Store::connect(url).await?;
    let result = store.backup_to(path).await;
    store.close().await;
    result
}

/// How [`Store::import_bot`] treats a bot that already has data.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Delete the bot's existing rows, record and versions first, instead of refusing.
    pub replace: bool,
    /// The workspace to put the bot's dashboard record in; by default the one it replaces, a
    /// workspace with the exported name (the oldest), or a new one of that name.
    pub workspace: Option<i64>,
}

/// What an import wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub bot: u64,
    /// Rows per table, in [`BOT_TABLES`] order.
    pub rows: Vec<(&'static str, usize)>,
    pub versions: usize,
    /// Whether existing data was replaced.
    pub replaced: bool,
    /// The bot's secrets written: the export's, or (none there) those of the record replaced,
    /// kept.
    pub secrets: usize,
    /// The workspace's secrets written from the export's `"workspace_secrets"`: those the
    /// workspace did not have (all of them with [`ImportOptions::replace`]).
    pub workspace_secrets: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnType {
    Int,
    Real,
    Text,
    Bool,
    Blob,
    /// Anything else: PostgreSQL's value as text (cast back on import); SQLite's by its storage class.
    Other,
}

#[derive(Debug, Clone)]
struct Column {
    name: String,
    kind: ColumnType,
    /// PostgreSQL's type name, for casting `Other` columns back.
    sql_type: String,
    /// A PostgreSQL identity column (`GENERATED … AS IDENTITY`).
    identity: bool,
}

fn sqlite_kind(declared: &str) -> ColumnType {
    let declared = declared.to_ascii_uppercase();
    if declared.contains("INT") {
        ColumnType::Int
    } else if declared.contains("BOOL") {
        ColumnType::Bool
    } else if ["CHAR", "CLOB", "TEXT"].iter().any(|t| declared.contains(t)) {
        ColumnType::Text
    } else if declared.contains("BLOB") {
        ColumnType::Blob
    } else if ["REAL", "FLOA", "DOUB"].iter().any(|t| declared.contains(t)) {
        ColumnType::Real
    } else {
        ColumnType::Other
    }
}

fn postgres_kind(data_type: &str) -> ColumnType {
    match data_type {
        "bigint" | "integer" | "smallint" => ColumnType::Int,
        "double precision" | "real" => ColumnType::Real,
        "text" | "character varying" | "character" => ColumnType::Text,
        "boolean" => ColumnType::Bool,
        "bytea" => ColumnType::Blob,
        _ => ColumnType::Other,
    }
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A value bound to an `INSERT`, typed for its column.
enum Bound {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
    Bool(Option<bool>),
    Blob(Option<Vec<u8>>),
}

fn bound(table: &str, column: &Column, value: &Value) -> Result<Bound> {
    let wrong = || Error::Refused(format!("{table}.{}: {value} does not fit a {:?} column", column.name, column.kind));
    let kind = match (column.kind, value) {
        // SQLite's untyped columns take what the document has.
        (ColumnType::Other, Value::Number(n)) if n.is_i64() => ColumnType::Int,
        (ColumnType::Other, Value::Number(_)) => ColumnType::Real,
        (ColumnType::Other, Value::Bool(_)) => ColumnType::Bool,
        (kind, _) => kind,
    };
    Ok(match (kind, value) {
        (ColumnType::Int, Value::Null) => Bound::Int(None),
        (ColumnType::Int, Value::Number(n)) => Bound::Int(Some(n.as_i64().ok_or_else(wrong)?)),
        (ColumnType::Int, Value::Bool(b)) => Bound::Int(Some(i64::from(*b))),
        (ColumnType::Real, Value::Null) => Bound::Real(None),
        (ColumnType::Real, Value::Number(n)) => Bound::Real(Some(n.as_f64().ok_or_else(wrong)?)),
        (ColumnType::Bool, Value::Null) => Bound::Bool(None),
        (ColumnType::Bool, Value::Bool(b)) => Bound::Bool(Some(*b)),
        (ColumnType::Bool, Value::Number(n)) => Bound::Bool(Some(n.as_i64().ok_or_else(wrong)? != 0)),
        (ColumnType::Blob, Value::Null) => Bound::Blob(None),
        (ColumnType::Blob, Value::String(text)) => {
            Bound::Blob(Some(base64::engine::general_purpose::STANDARD.decode(text).map_err(|_| wrong())?))
        }
        (ColumnType::Text | ColumnType::Other, Value::Null) => Bound::Text(None),
        (ColumnType::Text | ColumnType::Other, Value::String(text)) => Bound::Text(Some(text.clone())),
        _ => return Err(wrong()),
    })
}

/// Orders JSON values: null, booleans, numbers, strings (by bytes), then anything else by text.
fn compare(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            _ => 4,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => x.as_f64().unwrap_or(0.0).total_cmp(&y.as_f64().unwrap_or(0.0)),
        },
        (Value::String(x), Value::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        _ => rank(a).cmp(&rank(b)).then_with(|| a.to_string().cmp(&b.to_string())),
    }
}

pub(crate) fn refused(message: impl Into<String>) -> Error {
    Error::Refused(message.into())
}

type RecordRow = (i64, i64, String, Option<i64>, i64, String);

impl Conn<'_> {
    /// The table's columns in order, empty if it does not exist.
    async fn columns(&mut self, table: &str) -> Result<Vec<Column>> {
        match self {
            Conn::Sqlite(c) => {
                const SQL: &str = "SELECT name, type FROM pragma_table_info($1) ORDER BY cid";
                let rows: Vec<(String, String)> = sqlx::query_as(SQL).bind(table).fetch_all(&mut **c).await?;
                Ok(rows
                    .into_iter()
                    .map(|(name, declared)| Column {
                        kind: sqlite_kind(&declared),
                        name,
                        sql_type: declared,
                        identity: false,
                    })
                    .collect())
            }
            Conn::Postgres(c) => {
                const SQL: &str = "SELECT column_name::text, data_type::text, is_identity::text \
                     FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 \
                     ORDER BY ordinal_position";
                let rows: Vec<(String, String, String)> = sqlx::query_as(SQL).bind(table).fetch_all(&mut **c).await?;
                Ok(rows
                    .into_iter()
                    .map(|(name, data_type, identity)| Column {
                        name,
                        kind: postgres_kind(&data_type),
                        sql_type: data_type,
                        identity: identity == "YES",
                    })
                    .collect())
            }
        }
    }

    /// Every row of `table` under `bot`, as JSON objects without `bot_id`, sorted by
    /// `first` columns then all the others, with the `first` columns then left out.
    async fn bot_rows(&mut self, table: &str, omit: &[&str], bot: i64) -> Result<Vec<Value>> {
        let columns: Vec<Column> = self.columns(table).await?.into_iter().filter(|c| c.name != "bot_id").collect();
        if columns.is_empty() {
            return Ok(Vec::new());
        }
        let select: Vec<String> = columns
            .iter()
            .map(|column| {
                let name = quoted(&column.name);
                match (&*self, column.kind) {
                    (Conn::Sqlite(_), _) | (Conn::Postgres(_), ColumnType::Bool | ColumnType::Blob) => name,
                    (Conn::Postgres(_), ColumnType::Int) => format!("{name}::bigint"),
                    (Conn::Postgres(_), ColumnType::Real) => format!("{name}::float8"),
                    (Conn::Postgres(_), ColumnType::Text | ColumnType::Other) => format!("{name}::text"),
                }
            })
            .collect();
        let sql = format!("SELECT {} FROM {} WHERE bot_id = $1", select.join(", "), quoted(table));
        let mut rows: Vec<Vec<Value>> = Vec::new();
        match self {
            Conn::Sqlite(c) => {
                for row in sqlx::query(&sql).bind(bot).fetch_all(&mut **c).await? {
                    rows.push(
                        columns
                            .iter()
                            .enumerate()
                            .map(|(i, col)| sqlite_value(&row, i, col.kind))
                            .collect::<Result<_>>()?,
                    );
                }
            }
            Conn::Postgres(c) => {
                for row in sqlx::query(&sql).bind(bot).fetch_all(&mut **c).await? {
                    rows.push(
                        columns
                            .iter()
                            .enumerate()
                            .map(|(i, col)| postgres_value(&row, i, col.kind))
                            .collect::<Result<_>>()?,
                    );
                }
            }
        }
        let order: Vec<usize> = (0..columns.len())
            .filter(|&i| omit.contains(&columns[i].name.as_str()))
            .chain((0..columns.len()).filter(|&i| !omit.contains(&columns[i].name.as_str())))
            .collect();
        rows.sort_by(|a, b| {
            order.iter().map(|&i| compare(&a[i], &b[i])).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)
        });
        Ok(rows
            .into_iter()
            .map(|row| {
                let object: Map<String, Value> = columns
                    .iter()
                    .zip(row)
                    .filter(|(column, _)| !omit.contains(&column.name.as_str()))
                    .map(|(column, value)| (column.name.clone(), value))
                    .collect();
                Value::Object(object)
            })
            .collect())
    }

    async fn count_rows(&mut self, table: &str, bot: i64) -> Result<i64> {
        let sql = format!("SELECT COUNT(*) FROM {} WHERE bot_id = $1", quoted(table));
        Ok(match self {
            Conn::Sqlite(c) => sqlx::query_scalar(&sql).bind(bot).fetch_one(&mut **c).await?,
            Conn::Postgres(c) => sqlx::query_scalar(&sql).bind(bot).fetch_one(&mut **c).await?,
        })
    }

    async fn execute(&mut self, sql: &str, binds: Vec<Bound>) -> Result<u64> {
        macro_rules! run {
            ($c:expr) => {{
                let mut query = sqlx::query(sql);
                for value in binds {
                    query = match value {
                        Bound::Int(v) => query.bind(v),
                        Bound::Real(v) => query.bind(v),
                        Bound::Text(v) => query.bind(v),
                        Bound::Bool(v) => query.bind(v),
                        Bound::Blob(v) => query.bind(v),
                    };
                }
                query.execute(&mut **$c).await?.rows_affected()
            }};
        }
        Ok(match self {
            Conn::Sqlite(c) => run!(c),
            Conn::Postgres(c) => run!(c),
        })
    }

    /// Dashboard records of the bot: by Telegram id, or (none set) by name.
    async fn bot_records(&mut self, telegram: i64, name: Option<&str>) -> Result<Vec<RecordRow>> {
        const SQL: &str = "SELECT b.id, b.workspace_id, b.name, b.telegram_id, b.created_at, w.name \
             FROM bots b JOIN workspaces w ON w.id = b.workspace_id \
             WHERE b.telegram_id = $1 OR (b.telegram_id IS NULL AND b.name = $2) ORDER BY b.id";
        Ok(match self {
            Conn::Sqlite(c) => sqlx::query_as(SQL).bind(telegram).bind(name).fetch_all(&mut **c).await?,
            Conn::Postgres(c) => sqlx::query_as(SQL).bind(telegram).bind(name).fetch_all(&mut **c).await?,
        })
    }

    /// The export document of `bot`; with `secrets`, its secrets opened with that key.
    pub(crate) async fn export(&mut self, bot: &str, secrets: Option<&SecretKey>) -> Result<Value> {
        // A number is the engine's id; a name is a dashboard record's, else a sandbox bot's.
        let (id, record) = match bot.parse::<u64>() {
            Ok(id) => {
                let id = i64::try_from(id).map_err(|_| Error::OutOfRange { what: "bot id", value: id })?;
                // Its record has this Telegram id, or none and a name that gives this id.
                const SQL: &str = "SELECT b.id, b.workspace_id, b.name, b.telegram_id, b.created_at, w.name \
                     FROM bots b JOIN workspaces w ON w.id = b.workspace_id \
                     WHERE b.telegram_id = $1 OR b.telegram_id IS NULL ORDER BY b.telegram_id IS NULL, b.id";
                let records: Vec<RecordRow> = match self {
                    Conn::Sqlite(c) => sqlx::query_as(SQL).bind(id).fetch_all(&mut **c).await?,
                    Conn::Postgres(c) => sqlx::query_as(SQL).bind(id).fetch_all(&mut **c).await?,
                };
                let record = records
                    .into_iter()
                    .find(|r| r.3 == Some(id) || (r.3.is_none() && sandbox_bot_id(&r.2) as i64 == id));
                (id, record)
            }
            Err(_) => {
                const SQL: &str = "SELECT b.id, b.workspace_id, b.name, b.telegram_id, b.created_at, w.name \
                     FROM bots b JOIN workspaces w ON w.id = b.workspace_id WHERE b.name = $1 ORDER BY b.id";
                let mut records: Vec<RecordRow> = match self {
                    Conn::Sqlite(c) => sqlx::query_as(SQL).bind(bot).fetch_all(&mut **c).await?,
                    Conn::Postgres(c) => sqlx::query_as(SQL).bind(bot).fetch_all(&mut **c).await?,
                };
                if records.len() > 1 {
                    let ids: Vec<String> =
                        records.iter().map(|r| r.3.map_or_else(|| format!("#{}", r.0), |t| t.to_string())).collect();
                    return Err(refused(format!(
                        "{} bots are named {bot:?} (ids {}): export by id",
                        records.len(),
                        ids.join(", ")
                    )));
                }
                let record = records.pop();
                let id = match record.as_ref().and_then(|r| r.3) {
                    Some(id) => id,
                    None => i64::try_from(sandbox_bot_id(bot)).unwrap_or(i64::MAX),
                };
                (id, record)
            }
        };
        let mut tables = Map::new();
        let mut rows_total = 0;
        for &(table, omit) in BOT_TABLES {
            let rows = self.bot_rows(table, omit, id).await?;
            rows_total += rows.len();
            tables.insert(table.to_owned(), Value::Array(rows));
        }
        let mut versions = Vec::new();
        let mut opened = Vec::new();
        let mut workspace_opened = Vec::new();
        if let (Some((record_id, workspace, ..)), Some(key)) = (&record, secrets) {
            opened = self.reborrow().bot_secrets(Some(key), *record_id).await?;
            workspace_opened = self.reborrow().secret_values(Some(key), *workspace, None).await?;
        }
        // Whether serve runs it, and the supervisor's last status of it (decision 0040).
        let mut lifecycle = (true, None);
        if let Some((record_id, workspace, ..)) = &record {
            const ENABLED: &str = "SELECT enabled FROM bots WHERE id = $1";
            let enabled: bool = match self {
                Conn::Sqlite(c) => sqlx::query_scalar(ENABLED).bind(record_id).fetch_one(&mut **c).await?,
                Conn::Postgres(c) => sqlx::query_scalar(ENABLED).bind(record_id).fetch_one(&mut **c).await?,
            };
            let status = self.reborrow().bot_status(*workspace, *record_id).await?;
            lifecycle = (enabled, status.map(|s| status_json(&s)));
        }
        if let Some((record_id, ..)) = &record {
            const SQL: &str = "SELECT version, source, created_at FROM bot_versions WHERE bot_id = $1 ORDER BY version";
            let rows: Vec<(i64, String, i64)> = match self {
                Conn::Sqlite(c) => sqlx::query_as(SQL).bind(record_id).fetch_all(&mut **c).await?,
                Conn::Postgres(c) => sqlx::query_as(SQL).bind(record_id).fetch_all(&mut **c).await?,
            };
            versions = rows
                .into_iter()
                .map(|(version, source, created_at)| json!({"version": version, "source": source, "created_at": created_at}))
                .collect();
        } else if rows_total == 0 {
            return Err(refused(format!(
                "no bot {bot:?} in this database (no dashboard record, no data under id {id})"
            )));
        }
        let record = record.map(|(_, _, name, telegram_id, created_at, workspace)| {
            json!({"name": name, "telegram_id": telegram_id, "created_at": created_at, "workspace": workspace,
                   "enabled": lifecycle.0, "status": lifecycle.1})
        });
        let mut document = json!({
            "ferrogram_export": EXPORT_FORMAT,
            "bot": {"id": id, "record": record},
            "versions": versions,
            "tables": tables,
        });
        if secrets.is_some() {
            let secrets: Vec<Value> =
                opened.into_iter().map(|(name, value)| json!({"name": name, "value": value})).collect();
            document["secrets"] = Value::Array(secrets);
            let shared: Vec<Value> =
                workspace_opened.iter().map(|(name, value)| json!({"name": name, "value": value.as_str()})).collect();
            document["workspace_secrets"] = Value::Array(shared);
        }
        Ok(document)
    }

    pub(crate) async fn import(
        &mut self,
        document: &Value,
        options: ImportOptions,
        key: Option<&SecretKey>,
    ) -> Result<ImportSummary> {
        let format = document.get("ferrogram_export").and_then(Value::as_i64);
        if format != Some(EXPORT_FORMAT) {
            return Err(refused(match format {
                Some(other) => format!("export format {other} is not supported (this Ferrogram reads {EXPORT_FORMAT})"),
                None => "not a Ferrogram export (no \"ferrogram_export\" format number)".to_owned(),
            }));
        }
        let id = document
            .pointer("/bot/id")
            .and_then(Value::as_i64)
            .filter(|id| *id >= 0)
            .ok_or_else(|| refused("the export has no bot id (\"bot\": {\"id\": …})"))?;
        let record = document.pointer("/bot/record").filter(|r| !r.is_null());
        let empty = Map::new();
        let tables = match document.get("tables") {
            None => &empty,
            Some(tables) => tables.as_object().ok_or_else(|| refused("\"tables\" is not an object"))?,
        };
        if let Some(unknown) = tables.keys().find(|name| !BOT_TABLES.iter().any(|(t, _)| t == name)) {
            return Err(refused(format!(
                "the export has a table `{unknown}` this Ferrogram does not know (made by a newer version?)"
            )));
        }
        let secrets = document_secrets(document, "secrets")?;
        let workspace_secrets = document_secrets(document, "workspace_secrets")?.unwrap_or_default();
        let has_secrets = secrets.as_ref().is_some_and(|secrets| !secrets.is_empty()) || !workspace_secrets.is_empty();
        let status = record.and_then(|r| r.get("status")).filter(|s| !s.is_null()).map(stored_status).transpose()?;
        let enabled = match record.and_then(|r| r.get("enabled")) {
            None | Some(Value::Null) => true,
            Some(enabled) => enabled.as_bool().ok_or_else(|| refused("the bot's \"enabled\" is not true or false"))?,
        };
        if has_secrets && record.is_none() {
            return Err(refused("the export has secrets but no bot record to keep them"));
        }
        if has_secrets && key.is_none() {
            return Err(Error::NoSecretKey);
        }
        let text = |value: &Value, key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        let record_name = record.and_then(|r| text(r, "name"));
        let record_telegram = record.and_then(|r| r.get("telegram_id")).and_then(Value::as_i64);

        // What the bot has here already.
        let mut existing = Vec::new();
        for &(table, _) in BOT_TABLES {
            if self.columns(table).await?.is_empty() {
                continue;
            }
            let count = self.count_rows(table, id).await?;
            if count > 0 {
                existing.push(format!("{table}: {count} rows"));
            }
        }
        let lookup_name = if record_telegram.is_none() { record_name.as_deref() } else { None };
        let records = self.bot_records(id, lookup_name).await?;
        if !records.is_empty() {
            existing.push(format!("{} dashboard record(s)", records.len()));
        }
        let replaced = !existing.is_empty();
        if replaced && !options.replace {
            return Err(refused(format!(
                "bot {id} already has data in this database ({}); nothing was changed: \
                 use --replace to overwrite it with the export",
                existing.join(", ")
            )));
        }
        // The secrets of the records replaced are kept when the export brings none.
        let mut kept = Vec::new();
        if replaced && secrets.is_none() {
            for row in &records {
                for (name, value) in self.reborrow().bot_secrets(key, row.0).await? {
                    if !kept.iter().any(|(kept_name, _): &(String, String)| *kept_name == name) {
                        kept.push((name, value));
                    }
                }
            }
        }
        if replaced {
            for &(table, _) in BOT_TABLES {
                if !self.columns(table).await?.is_empty() {
                    self.execute(
                        &format!("DELETE FROM {} WHERE bot_id = $1", quoted(table)),
                        vec![Bound::Int(Some(id))],
                    )
                    .await?;
                }
            }
            for row in &records {
                self.execute("DELETE FROM bots WHERE id = $1", vec![Bound::Int(Some(row.0))]).await?;
            }
        }

        // The dashboard record, its versions and its secrets.
        let mut versions = 0;
        let mut secrets_written = 0;
        let mut workspace_secrets_written = 0;
        if let Some(record) = record {
            let name = record_name.clone().ok_or_else(|| refused("the bot's record has no name"))?;
            let workspace = match options.workspace {
                Some(workspace) => {
                    if !self.workspace_exists(workspace).await? {
                        return Err(refused(format!("no workspace {workspace} in this database")));
                    }
                    workspace
                }
                None => match records.first() {
                    Some(previous) => previous.1,
                    None => {
                        let workspace_name = text(record, "workspace").unwrap_or_else(|| "imported".to_owned());
                        self.workspace_named_or_new(&workspace_name).await?
                    }
                },
            };
            let created_at = record.get("created_at").and_then(Value::as_i64).unwrap_or_else(crate::now);
            const BOT: &str =
                "INSERT INTO bots (workspace_id, name, telegram_id, created_at) VALUES ($1, $2, $3, $4) RETURNING id";
            let record_id: i64 = match self {
                Conn::Sqlite(c) => {
                    sqlx::query_scalar(BOT)
                        .bind(workspace)
                        .bind(&name)
                        .bind(record_telegram)
                        .bind(created_at)
                        .fetch_one(&mut **c)
                        .await?
                }
                Conn::Postgres(c) => {
                    sqlx::query_scalar(BOT)
                        .bind(workspace)
                        .bind(&name)
                        .bind(record_telegram)
                        .bind(created_at)
                        .fetch_one(&mut **c)
                        .await?
                }
            };
            const VERSION: &str =
                "INSERT INTO bot_versions (bot_id, version, source, created_at) VALUES ($1, $2, $3, $4)";
            for binds in version_rows(document, record_id, created_at)? {
                self.execute(VERSION, binds).await?;
                versions += 1;
            }
            let written = secrets.as_ref().unwrap_or(&kept);
            for (name, value) in written {
                // `key` is there: checked above for the export's secrets, needed to open the kept ones.
                let key = key.ok_or(Error::NoSecretKey)?;
                self.reborrow().put_secret(key, workspace, Some(record_id), name, value).await?;
                secrets_written += 1;
            }
            // The workspace's secrets: those it lacks, or all of them with `replace`.
            for (name, value) in &workspace_secrets {
                let key = key.ok_or(Error::NoSecretKey)?;
                if options.replace || !self.reborrow().has_secret(workspace, None, name).await? {
                    self.reborrow().put_secret(key, workspace, None, name, value).await?;
                    workspace_secrets_written += 1;
                }
            }
            self.reborrow().set_bot_enabled(workspace, record_id, enabled).await?;
            if let Some(status) = &status {
                self.reborrow().save_bot_status(workspace, record_id, status).await?;
            }
        }

        // The data rows.
        let mut counts = Vec::new();
        for &(table, omit) in BOT_TABLES {
            let rows = match tables.get(table) {
                None => &Vec::new(),
                Some(rows) => rows.as_array().ok_or_else(|| refused(format!("table `{table}` is not a list")))?,
            };
            counts.push((table, rows.len()));
            if rows.is_empty() {
                continue;
            }
            let columns = self.columns(table).await?;
            if columns.is_empty() {
                return Err(refused(format!("this database has no table `{table}`")));
            }
            let postgres = matches!(self, Conn::Postgres(_));
            let mut identities = Vec::new();
            for row in rows {
                let object = row.as_object().ok_or_else(|| refused(format!("a row of `{table}` is not an object")))?;
                if let Some(unknown) = object.keys().find(|k| *k == "bot_id" || !columns.iter().any(|c| &c.name == *k))
                {
                    return Err(refused(format!("`{table}` has no column `{unknown}` to import into")));
                }
                let mut names = vec![quoted("bot_id")];
                let mut values = vec!["$1".to_owned()];
                let mut binds = vec![Bound::Int(Some(id))];
                let mut overriding = false;
                for column in
                    columns.iter().filter(|c| object.contains_key(&c.name) && !omit.contains(&c.name.as_str()))
                {
                    binds.push(bound(table, column, &object[&column.name])?);
                    names.push(quoted(&column.name));
                    let n = binds.len();
                    values.push(match (postgres, column.kind) {
                        (true, ColumnType::Other) => format!("CAST(${n}::text AS {})", column.sql_type),
                        _ => format!("${n}"),
                    });
                    if column.identity {
                        overriding = true;
                        if !identities.contains(&column.name) {
                            identities.push(column.name.clone());
                        }
                    }
                }
                let sql = format!(
                    "INSERT INTO {} ({}){} VALUES ({})",
                    quoted(table),
                    names.join(", "),
                    if overriding { " OVERRIDING SYSTEM VALUE" } else { "" },
                    values.join(", ")
                );
                self.execute(&sql, binds).await?;
            }
            // Identity values written explicitly: move the sequence past them.
            for column in identities {
                let sql = format!(
                    "SELECT setval(s, GREATEST(m, COALESCE(pg_sequence_last_value(s), 0))) \
                     FROM (SELECT pg_get_serial_sequence($1, $2)::regclass AS s, MAX({}) AS m FROM {}) t \
                     WHERE m IS NOT NULL",
                    quoted(&column),
                    quoted(table)
                );
                self.execute(&sql, vec![Bound::Text(Some(table.to_owned())), Bound::Text(Some(column))]).await?;
            }
        }
        let bot = u64::try_from(id).unwrap_or_default();
        Ok(ImportSummary {
            bot,
            rows: counts,
            versions,
            replaced,
            secrets: secrets_written,
            workspace_secrets: workspace_secrets_written,
        })
    }

    async fn workspace_exists(&mut self, workspace: i64) -> Result<bool> {
        const SQL: &str = "SELECT COUNT(*) FROM workspaces WHERE id = $1";
        let count: i64 = match self {
            Conn::Sqlite(c) => sqlx::query_scalar(SQL).bind(workspace).fetch_one(&mut **c).await?,
            Conn::Postgres(c) => sqlx::query_scalar(SQL).bind(workspace).fetch_one(&mut **c).await?,
        };
        Ok(count > 0)
    }

    /// The oldest workspace of this name, created if there is none.
    async fn workspace_named_or_new(&mut self, name: &str) -> Result<i64> {
        const FIND: &str = "SELECT id FROM workspaces WHERE name = $1 ORDER BY id LIMIT 1";
        const CREATE: &str = "INSERT INTO workspaces (name, created_at) VALUES ($1, $2) RETURNING id";
        let found: Option<i64> = match self {
            Conn::Sqlite(c) => sqlx::query_scalar(FIND).bind(name).fetch_optional(&mut **c).await?,
            Conn::Postgres(c) => sqlx::query_scalar(FIND).bind(name).fetch_optional(&mut **c).await?,
        };
        if let Some(id) = found {
            return Ok(id);
        }
        Ok(match self {
            Conn::Sqlite(c) => sqlx::query_scalar(CREATE).bind(name).bind(crate::now()).fetch_one(&mut **c).await?,
            Conn::Postgres(c) => sqlx::query_scalar(CREATE).bind(name).bind(crate::now()).fetch_one(&mut **c).await?,
        })
    }
}

/// A supervisor's status as an export carries it (`"status"` of the bot's record).
fn status_json(status: &StoredStatus) -> Value {
    let errors: Vec<Value> = status.errors.iter().map(|(at, message)| json!({"at": at, "message": message})).collect();
    json!({"status": status.status, "since": status.since, "version": status.version,
           "attempts": status.attempts, "errors": errors})
}

/// The status of an export's bot record, checked before anything is written.
fn stored_status(value: &Value) -> Result<StoredStatus> {
    let bad = || refused("the bot's \"status\" is not {\"status\", \"since\", \"version\", \"attempts\", \"errors\"}");
    let status = value.get("status").and_then(Value::as_str).ok_or_else(bad)?.to_owned();
    let since = value.get("since").and_then(Value::as_i64).ok_or_else(bad)?;
    let version = match value.get("version") {
        None | Some(Value::Null) => None,
        Some(version) => Some(version.as_i64().ok_or_else(bad)?),
    };
    let attempts = value.get("attempts").and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok()).ok_or_else(bad)?;
    let mut errors = Vec::new();
    for error in value.get("errors").and_then(Value::as_array).ok_or_else(bad)? {
        let at = error.get("at").and_then(Value::as_i64).ok_or_else(bad)?;
        let message = error.get("message").and_then(Value::as_str).ok_or_else(bad)?;
        errors.push((at, message.to_owned()));
    }
    Ok(StoredStatus { status, since, version, attempts, errors })
}

/// The secrets an export carries under `field` (`"secrets"`, the bot's, and
/// `"workspace_secrets"`, its workspace's, written by [`Store::export_bot_with_secrets`]),
/// checked before anything is written: `None` when it has none (made without them).
fn document_secrets(document: &Value, field: &str) -> Result<Option<Vec<(String, String)>>> {
    let listed = match document.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(listed) => listed.as_array().ok_or_else(|| refused(format!("\"{field}\" is not a list")))?,
    };
    let mut given: Vec<(String, String)> = Vec::new();
    for (index, secret) in listed.iter().enumerate() {
        let name = secret.get("name").and_then(Value::as_str);
        let value = secret.get("value").and_then(Value::as_str);
        let (Some(name), Some(value)) = (name, value) else {
            return Err(refused(format!("{field} {index} of the export is not {{\"name\": …, \"value\": …}} strings")));
        };
        check_name(name)?;
        check_value(value)?;
        if given.iter().any(|(seen, _)| seen == name) {
            return Err(refused(format!("the export has the secret `{name}` twice in {field}")));
        }
        given.push((name.to_owned(), value.to_owned()));
    }
    Ok(Some(given))
}

/// The export's versions as the binds of their `INSERT`s.
fn version_rows(document: &Value, record_id: i64, created_at: i64) -> Result<Vec<Vec<Bound>>> {
    let empty = Vec::new();
    let versions = match document.get("versions") {
        None | Some(Value::Null) => &empty,
        Some(versions) => versions.as_array().ok_or_else(|| refused("\"versions\" is not a list"))?,
    };
    let mut rows = Vec::new();
    for version in versions {
        let number =
            version.get("version").and_then(Value::as_i64).ok_or_else(|| refused("a version has no number"))?;
        let source = version.get("source").and_then(Value::as_str);
        let source = source.ok_or_else(|| refused(format!("version {number} has no source")))?.to_owned();
        let at = version.get("created_at").and_then(Value::as_i64).unwrap_or(created_at);
        rows.push(vec![
            Bound::Int(Some(record_id)),
            Bound::Int(Some(number)),
            Bound::Text(Some(source)),
            Bound::Int(Some(at)),
        ]);
    }
    Ok(rows)
}

fn sqlite_value(row: &sqlx::sqlite::SqliteRow, i: usize, kind: ColumnType) -> Result<Value> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let storage = raw.type_info().name().to_owned();
    Ok(match (kind, storage.as_str()) {
        (ColumnType::Bool, _) => Value::Bool(row.try_get_unchecked::<bool, _>(i)?),
        (_, "INTEGER") => Value::from(row.try_get_unchecked::<i64, _>(i)?),
        (_, "REAL") => Value::from(row.try_get_unchecked::<f64, _>(i)?),
        (_, "BLOB") => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(row.try_get_unchecked::<Vec<u8>, _>(i)?))
        }
        _ => Value::String(row.try_get_unchecked::<String, _>(i)?),
    })
}

fn postgres_value(row: &sqlx::postgres::PgRow, i: usize, kind: ColumnType) -> Result<Value> {
    Ok(match kind {
        ColumnType::Int => row.try_get::<Option<i64>, _>(i)?.map_or(Value::Null, Value::from),
        ColumnType::Real => row.try_get::<Option<f64>, _>(i)?.map_or(Value::Null, Value::from),
        ColumnType::Bool => row.try_get::<Option<bool>, _>(i)?.map_or(Value::Null, Value::Bool),
        ColumnType::Blob => row
            .try_get::<Option<Vec<u8>>, _>(i)?
            .map_or(Value::Null, |b| Value::String(base64::engine::general_purpose::STANDARD.encode(b))),
        ColumnType::Text | ColumnType::Other => row.try_get::<Option<String>, _>(i)?.map_or(Value::Null, Value::String),
    })
}

impl Store {
    /// The export document of one bot: `bot` is its id, or its name (a dashboard record's, else
    /// a sandbox bot's, whose id derives from the name by [`sandbox_bot_id`]). Read in one
    /// snapshot (a read transaction) while the server keeps writing. Fails if the database has
    /// neither a record nor data of the bot, or several records of that name.
    pub async fn export_bot(&self, bot: &str) -> Result<Value> {
        self.export_read(bot, None).await
    }

    /// [`Store::export_bot`] with the bot's secrets opened, in clear, under `"secrets"`: for
    /// an operator who asked for them (`ferrogram export --with-secrets`). Refused without
    /// this store's key, or when a secret does not open under it.
    pub async fn export_bot_with_secrets(&self, bot: &str) -> Result<Value> {
        let key = self.secret_key.clone().ok_or(Error::NoSecretKey)?;
        self.export_read(bot, Some(&key)).await
    }

    async fn export_read(&self, bot: &str, secrets: Option<&SecretKey>) -> Result<Value> {
        match &self.pool {
            Pool::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                let document = Conn::Sqlite(&mut tx).export(bot, secrets).await?;
                tx.rollback().await?;
                Ok(document)
            }
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
                let document = Conn::Postgres(&mut tx).export(bot, secrets).await?;
                tx.rollback().await?;
                Ok(document)
            }
        }
    }

    /// Restores an export in one transaction. If the bot already has rows, a dashboard record
    /// or versions here, it is refused (nothing changes) unless `options.replace`, which first
    /// deletes them. The export's secrets (`"secrets"`) are sealed under this store's key
    /// (refused without one); with none in the export, a replaced record's secrets are kept
    /// (which needs the key when it has some).
    pub async fn import_bot(&self, document: &Value, options: ImportOptions) -> Result<ImportSummary> {
        let mut tx = self.transaction().await?;
        let key = self.secret_key.clone();
        let summary = tx.conn().import(document, options, key.as_deref()).await?;
        tx.commit().await?;
        // The import may have replaced the bot's directory rows.
        self.forget_directory_writes();
        Ok(summary)
    }

    /// Snapshots a SQLite database into a new file with `VACUUM INTO` (consistent, and safe
    /// while others write); refused on PostgreSQL (use `pg_dump`) and if `path` exists.
    pub async fn backup_to(&self, path: &Path) -> Result<()> {
        let Pool::Sqlite(pool) = &self.pool else { return Err(Error::Refused(PG_BACKUP.to_owned())) };
        if path.exists() {
            return Err(refused(format!("{}: already exists; back up into a new file", path.display())));
        }
        let target = path.to_str().ok_or_else(|| refused(format!("{}: not a UTF-8 path", path.display())))?;
        sqlx::query("VACUUM INTO $1").bind(target).execute(pool).await?;
        Ok(())
    }

    /// Tables with a `bot_id` column that [`BOT_TABLES`] does not list (nor the known
    /// non-data tables): for the test that keeps the list complete.
    #[doc(hidden)]
    pub async fn unlisted_bot_tables(&self) -> Result<Vec<String>> {
        const SQLITE: &str = "SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) c \
             WHERE m.type = 'table' AND c.name = 'bot_id' ORDER BY m.name";
        const POSTGRES: &str = "SELECT table_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND column_name = 'bot_id' ORDER BY table_name";
        let tables: Vec<String> = match &self.pool {
            Pool::Sqlite(pool) => sqlx::query_scalar(SQLITE).fetch_all(pool).await?,
            Pool::Postgres(pool) => sqlx::query_scalar(POSTGRES).fetch_all(pool).await?,
        };
        Ok(tables
            .into_iter()
            .filter(|t| !BOT_TABLES.iter().any(|(listed, _)| listed == t) && !NOT_BOT_TABLES.contains(&t.as_str()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exports, imports and backups can run in a spawned task (a multi-threaded runtime's).
    #[allow(dead_code)]
    fn futures_are_send(store: &Store, document: &Value) {
        fn send<T: Send>(_: T) {}
        send(store.export_bot("bot"));
        send(store.import_bot(document, ImportOptions::default()));
        send(store.backup_to(Path::new("x")));
        send(backup("sqlite://x", Path::new("x")));
    }

    #[test]
    fn values_sort_by_type_then_value() {
        let mut values = vec![json!("b"), json!(2), json!(null), json!("a"), json!(-1), json!(true), json!(1.5)];
        values.sort_by(compare);
        assert_eq!(values, vec![json!(null), json!(true), json!(-1), json!(1.5), json!(2), json!("a"), json!("b")]);
    }

    #[test]
    fn declared_types_map_to_kinds() {
        assert_eq!(sqlite_kind("INTEGER"), ColumnType::Int);
        assert_eq!(sqlite_kind("text"), ColumnType::Text);
        assert_eq!(sqlite_kind("BOOLEAN"), ColumnType::Bool);
        assert_eq!(sqlite_kind("REAL"), ColumnType::Real);
        assert_eq!(sqlite_kind(""), ColumnType::Other);
        assert_eq!(postgres_kind("bigint"), ColumnType::Int);
        assert_eq!(postgres_kind("jsonb"), ColumnType::Other);
    }
}
