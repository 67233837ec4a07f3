//! The engine's [`CollectionStore`] on the database (migration `0002_collections`).
//!
//! Records are JSON text in `records`, keyed by (bot, collection, id) with their scope; ids come
//! from `collection_ids`, per bot and collection, never reused. Each indexed field's value is
//! also a row of `record_values` (type, number, text), so filters and ordering on indexed
//! fields run in SQL; anything else (other fields, `id`/`created_at`/`updated_at`, filters SQL
//! cannot express) is applied in Rust by the engine's [`apply_query`] after loading the scope's
//! rows that pass the SQL part. The SQL compares exactly as [`ferrogram_core::compare_values`] does
//! (numbers as doubles, text in code point order), so both paths, both backends and the memory
//! store answer alike. Search keeps each searchable field's terms in `record_terms` and ranks
//! in Rust with the `search` crate (see `docs/decisions/0008-full-text-search.md`). Every
//! statement names the bot, the collection and, for anything read, the scope.
//!
//! `collection_ids` also keeps the searchable and indexed fields the index tables were built
//! for: when a call brings a spec that differs (the bot file changed), the collection's
//! `record_values` and `record_terms` are rebuilt first, in one transaction.

use std::collections::BTreeMap;

use ferrogram_core::{
    BoxFuture, CollectionSpec, CollectionStore, Filter, Hit, Op, PSEUDO_FIELDS, Query, Record, Scope, StoreError,
    apply_query, record_matches, record_terms, value_kind,
};
use serde_json::{Map, Value};
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;

use crate::ops::Conn;
use crate::{Error, Result, Store, now};

/// Runs `$body` with `$c` bound to the backend's connection (`&mut Conn`, reusable).
macro_rules! on {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            Conn::Sqlite(c) => {
                let $c: &mut SqliteConnection = &mut **c;
                $body
            }
            Conn::Postgres(c) => {
                let $c: &mut PgConnection = &mut **c;
                $body
            }
        }
    };
}

/// A bound parameter of a query built at run time.
#[derive(Debug, Clone)]
enum Param {
    Int(i64),
    Real(f64),
    Text(String),
}

/// Runs `$sql` with `$params` bound in order, as `$run` (`fetch_all`, `fetch_one`, …).
macro_rules! dynamic {
    ($conn:expr, $kind:ident, $sql:expr, $params:expr, $run:ident $(, $then:ident)?) => {
        on!($conn, c => {
            let mut q = sqlx::$kind($sql);
            for param in $params {
                q = match param {
                    Param::Int(v) => q.bind(*v),
                    Param::Real(v) => q.bind(*v),
                    Param::Text(v) => q.bind(v.clone()),
                };
            }
            q.$run(c).await? $(.$then())?
        })
    };
}

fn scope_key(scope: Scope) -> (&'static str, i64) {
    match scope {
        Scope::User(id) => ("user", id),
        Scope::Chat(id) => ("chat", id),
        Scope::Bot => ("bot", 0),
    }
}

fn bot_id(bot: u64) -> Result<i64> {
    i64::try_from(bot).map_err(|_| Error::OutOfRange { what: "bot id", value: bot })
}

/// The first four parameters of every scoped statement: bot, collection, scope, owner.
fn scoped(bot: i64, spec: &CollectionSpec, scope: Scope) -> Vec<Param> {
    let (kind, owner) = scope_key(scope);
    vec![Param::Int(bot), Param::Text(spec.name.clone()), Param::Text(kind.to_owned()), Param::Int(owner)]
}

const SCOPE: &str = "r.bot_id = $1 AND r.collection = $2 AND r.scope = $3 AND r.owner_id = $4";

/// A value as `record_values` keeps it: (kind, num, text). Text cannot hold NUL on
/// PostgreSQL, so NUL characters are left out on both backends.
fn stored_value(value: &Value) -> (i64, Option<f64>, Option<String>) {
    let kind = value_kind(value);
    match value {
        Value::Null => (kind, None, None),
        Value::Bool(b) => (kind, Some(if *b { 1.0 } else { 0.0 }), None),
        Value::Number(n) => (kind, Some(n.as_f64().unwrap_or(0.0)), None),
        Value::String(s) => (kind, None, Some(s.replace('\0', ""))),
        Value::Array(_) | Value::Object(_) => (kind, None, Some(value.to_string().replace('\0', ""))),
    }
}

type RecordRow = (i64, String, i64, i64);

fn record(row: RecordRow) -> Result<Record> {
    let (id, data, created_at, updated_at) = row;
    Ok(Record { id, fields: serde_json::from_str(&data)?, created_at, updated_at })
}

fn placeholders(from: usize, count: usize) -> String {
    (from..from + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

/// Whether a field can be filtered or sorted on in SQL: indexed, and not a name that could
/// fall back to the record's own columns.
fn in_sql(spec: &CollectionSpec, field: &str) -> bool {
    spec.indexed.iter().any(|f| f == field) && !PSEUDO_FIELDS.contains(&field)
}

/// The SQL condition of one filter on an indexed field, binding into `params`; `None` when the
/// filter cannot be written in SQL (it is then applied in Rust).
fn filter_sql(spec: &CollectionSpec, filter: &Filter, params: &mut Vec<Param>) -> Option<String> {
    if !in_sql(spec, &filter.field) {
        return None;
    }
    params.push(Param::Text(filter.field.clone()));
    let field = params.len();
    let exists = |cond: String| {
        format!(
            "EXISTS (SELECT 1 FROM record_values v WHERE v.bot_id = r.bot_id AND v.collection = r.collection \
             AND v.record_id = r.id AND v.field = ${field} AND {cond})"
        )
    };
    // `field = value` as compare_values decides it.
    let equal = |value: &Value, params: &mut Vec<Param>| -> String {
        let (kind, num, text) = stored_value(value);
        match (num, text) {
            (Some(num), _) => {
                params.push(Param::Real(num));
                exists(format!("v.kind = {kind} AND v.num = ${}", params.len()))
            }
            (None, Some(text)) => {
                params.push(Param::Text(text));
                exists(format!("v.kind = {kind} AND v.text = ${}", params.len()))
            }
            // Null: absent or stored as null.
            (None, None) => format!("NOT {}", exists("v.kind <> 0".to_owned())),
        }
    };
    let compare = |sign: &str, params: &mut Vec<Param>| -> String {
        let (kind, num, text) = stored_value(&filter.value);
        match (kind, num, text) {
            (1 | 2, Some(num), _) => {
                params.push(Param::Real(num));
                exists(format!("v.kind = {kind} AND v.num {sign} ${}", params.len()))
            }
            (3, _, Some(text)) => {
                params.push(Param::Text(text));
                exists(format!("v.kind = 3 AND v.text {sign} ${}", params.len()))
            }
            _ => "1 = 0".to_owned(),
        }
    };
    Some(match filter.op {
        Op::Eq => equal(&filter.value, params),
        Op::Ne => format!("NOT ({})", equal(&filter.value, params)),
        Op::Lt => compare("<", params),
        Op::Le => compare("<=", params),
        Op::Gt => compare(">", params),
        Op::Ge => compare(">=", params),
        Op::In => match filter.value.as_array() {
            Some(items) if !items.is_empty() => {
                let any: Vec<String> = items.iter().map(|item| equal(item, params)).collect();
                format!("({})", any.join(" OR "))
            }
            _ => "1 = 0".to_owned(),
        },
        Op::NotIn => match filter.value.as_array() {
            Some(items) if !items.is_empty() => {
                let any: Vec<String> = items.iter().map(|item| equal(item, params)).collect();
                format!("NOT ({})", any.join(" OR "))
            }
            _ => "1 = 1".to_owned(),
        },
    })
}

/// The ORDER BY terms (before the final `r.id`) that sort as [`ferrogram_core::compare_records`] does,
/// binding into `params`; `None` when the order cannot be written in SQL.
fn order_sql(spec: &CollectionSpec, order_by: Option<&(String, bool)>, params: &mut Vec<Param>) -> Option<String> {
    let Some((field, descending)) = order_by else { return Some(String::new()) };
    let dir = if *descending { "DESC" } else { "ASC" };
    if field == "id" && !spec.indexed.contains(field) {
        // Only right when no record has a field `id`; otherwise sorted in Rust.
        return None;
    }
    if !in_sql(spec, field) {
        return None;
    }
    params.push(Param::Text(field.clone()));
    let n = params.len();
    // At most one row per (record, field); absent sorts as null (kind 0). Within one kind only
    // one of num/text is set, so NULL placement (which differs between backends) never decides.
    let value = |column: &str| {
        format!(
            "(SELECT o.{column} FROM record_values o WHERE o.bot_id = r.bot_id AND o.collection = r.collection \
             AND o.record_id = r.id AND o.field = ${n})"
        )
    };
    Some(format!("COALESCE({}, 0) {dir}, {} {dir}, {} {dir}, ", value("kind"), value("num"), value("text")))
}

/// The WHERE clause of a query on the scope (parameters 1–4) with the filters SQL can express;
/// also whether every filter was expressed.
fn where_clause(spec: &CollectionSpec, filters: &[Filter], params: &mut Vec<Param>) -> (String, bool) {
    let mut clause = SCOPE.to_owned();
    let mut complete = true;
    for filter in filters {
        match filter_sql(spec, filter, params) {
            Some(cond) => {
                clause.push_str(" AND ");
                clause.push_str(&cond);
            }
            None => complete = false,
        }
    }
    (clause, complete)
}

/// What `record_values` and `record_terms` depend on in a spec, as kept in `collection_ids`.
fn signature(spec: &CollectionSpec) -> String {
    serde_json::json!({"searchable": spec.searchable, "indexed": spec.indexed}).to_string()
}

fn scope_of(kind: &str, owner: i64) -> Scope {
    match kind {
        "user" => Scope::User(owner),
        "chat" => Scope::Chat(owner),
        _ => Scope::Bot,
    }
}

impl Conn<'_> {
    /// The spec the collection's index tables were built for; `None` before its first record.
    async fn stored_spec(&mut self, bot: i64, spec: &CollectionSpec) -> Result<Option<String>> {
        const SQL: &str = "SELECT spec FROM collection_ids WHERE bot_id = $1 AND collection = $2";
        Ok(on!(self, c => sqlx::query_scalar(SQL).bind(bot).bind(&spec.name).fetch_optional(c).await?))
    }

    /// Rebuilds the collection's `record_values` and `record_terms` (every scope) when the spec's
    /// searchable or indexed fields changed since they were built. Run in a transaction.
    async fn ensure_spec(&mut self, bot: u64, spec: &CollectionSpec) -> Result<()> {
        const RECORDS: &str = "SELECT id, scope, owner_id, data FROM records WHERE bot_id = $1 AND collection = $2";
        const VALUES: &str = "DELETE FROM record_values WHERE bot_id = $1 AND collection = $2";
        const TERMS: &str = "DELETE FROM record_terms WHERE bot_id = $1 AND collection = $2";
        // A compare-and-set: of concurrent writers that saw the old spec, one rebuilds (the
        // others wait for its row lock, then match nothing).
        const CLAIM: &str = "UPDATE collection_ids SET spec = $3 WHERE bot_id = $1 AND collection = $2 AND spec <> $3";
        let bot = bot_id(bot)?;
        let wanted = signature(spec);
        let claimed = on!(self, c => sqlx::query(CLAIM).bind(bot).bind(&spec.name).bind(&wanted).execute(c).await?.rows_affected());
        if claimed == 0 {
            return Ok(());
        }
        for sql in [VALUES, TERMS] {
            on!(self, c => sqlx::query(sql).bind(bot).bind(&spec.name).execute(c).await?.rows_affected());
        }
        let rows: Vec<(i64, String, i64, String)> =
            on!(self, c => sqlx::query_as(RECORDS).bind(bot).bind(&spec.name).fetch_all(c).await?);
        for (id, kind, owner, data) in rows {
            let fields: Map<String, Value> = serde_json::from_str(&data)?;
            self.write_index(bot, spec, scope_of(&kind, owner), id, &fields).await?;
        }
        Ok(())
    }

    async fn write_index(
        &mut self,
        bot: i64,
        spec: &CollectionSpec,
        scope: Scope,
        id: i64,
        fields: &Map<String, Value>,
    ) -> Result<()> {
        const VALUE: &str = "INSERT INTO record_values (bot_id, collection, record_id, field, kind, num, text) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)";
        const TERM: &str = "INSERT INTO record_terms \
             (bot_id, collection, scope, owner_id, term, record_id, field, frequency, field_len) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        let mut seen = Vec::new();
        for field in &spec.indexed {
            if seen.contains(&field) || PSEUDO_FIELDS.contains(&field.as_str()) {
                continue;
            }
            seen.push(field);
            let Some(value) = fields.get(field) else { continue };
            let (kind, num, text) = stored_value(value);
            on!(self, c => sqlx::query(VALUE)
                .bind(bot).bind(&spec.name).bind(id).bind(field).bind(kind).bind(num).bind(text)
                .execute(c).await?.rows_affected());
        }
        let (scope_kind, owner) = scope_key(scope);
        for (index, terms) in record_terms(spec, fields) {
            let field = &spec.searchable[index];
            for (term, frequency) in &terms.frequencies {
                on!(self, c => sqlx::query(TERM)
                    .bind(bot).bind(&spec.name).bind(scope_kind).bind(owner).bind(term).bind(id).bind(field)
                    .bind(i64::from(*frequency)).bind(i64::from(terms.len))
                    .execute(c).await?.rows_affected());
            }
        }
        Ok(())
    }

    async fn drop_index(&mut self, bot: i64, spec: &CollectionSpec, id: i64) -> Result<()> {
        const VALUES: &str = "DELETE FROM record_values WHERE bot_id = $1 AND collection = $2 AND record_id = $3";
        const TERMS: &str = "DELETE FROM record_terms WHERE bot_id = $1 AND collection = $2 AND record_id = $3";
        for sql in [VALUES, TERMS] {
            on!(self, c => sqlx::query(sql).bind(bot).bind(&spec.name).bind(id).execute(c).await?.rows_affected());
        }
        Ok(())
    }

    async fn record_create(
        &mut self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        fields: Map<String, Value>,
    ) -> Result<Record> {
        const NEXT_ID: &str = "INSERT INTO collection_ids (bot_id, collection, last_id, spec) VALUES ($1, $2, 1, $3) \
             ON CONFLICT (bot_id, collection) DO UPDATE SET last_id = collection_ids.last_id + 1 RETURNING last_id";
        const INSERT: &str = "INSERT INTO records \
             (bot_id, collection, id, scope, owner_id, data, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)";
        self.ensure_spec(bot, spec).await?;
        let bot = bot_id(bot)?;
        let id: i64 = on!(self, c => sqlx::query_scalar(NEXT_ID)
            .bind(bot).bind(&spec.name).bind(signature(spec))
            .fetch_one(c).await?);
        let (scope_kind, owner) = scope_key(scope);
        let data = serde_json::to_string(&fields)?;
        let at = now();
        on!(self, c => sqlx::query(INSERT)
            .bind(bot).bind(&spec.name).bind(id).bind(scope_kind).bind(owner).bind(&data).bind(at)
            .execute(c).await?.rows_affected());
        self.write_index(bot, spec, scope, id, &fields).await?;
        Ok(Record { id, fields, created_at: at, updated_at: at })
    }

    async fn record_get(&mut self, bot: u64, spec: &CollectionSpec, scope: Scope, id: i64) -> Result<Option<Record>> {
        let sql = format!("SELECT r.id, r.data, r.created_at, r.updated_at FROM records r WHERE {SCOPE} AND r.id = $5");
        let mut params = scoped(bot_id(bot)?, spec, scope);
        params.push(Param::Int(id));
        let row: Option<RecordRow> = dynamic!(self, query_as, &sql, &params, fetch_optional);
        row.map(record).transpose()
    }

    async fn record_update(
        &mut self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        id: i64,
        patch: Map<String, Value>,
    ) -> Result<Option<Record>> {
        const UPDATE: &str =
            "UPDATE records SET data = $3, updated_at = $4 WHERE bot_id = $1 AND collection = $2 AND id = $5";
        self.ensure_spec(bot, spec).await?;
        let Some(mut record) = self.record_get(bot, spec, scope, id).await? else { return Ok(None) };
        let bot = bot_id(bot)?;
        record.fields.extend(patch);
        record.updated_at = now();
        let data = serde_json::to_string(&record.fields)?;
        on!(self, c => sqlx::query(UPDATE)
            .bind(bot).bind(&spec.name).bind(&data).bind(record.updated_at).bind(id)
            .execute(c).await?.rows_affected());
        self.drop_index(bot, spec, id).await?;
        self.write_index(bot, spec, scope, id, &record.fields).await?;
        Ok(Some(record))
    }

    async fn record_delete(&mut self, bot: u64, spec: &CollectionSpec, scope: Scope, id: i64) -> Result<bool> {
        let sql = format!("DELETE FROM records WHERE {} AND id = $5", SCOPE.replace("r.", ""));
        let mut params = scoped(bot_id(bot)?, spec, scope);
        params.push(Param::Int(id));
        let deleted = dynamic!(self, query, &sql, &params, execute, rows_affected);
        if deleted == 1 {
            self.drop_index(bot_id(bot)?, spec, id).await?;
        }
        Ok(deleted == 1)
    }

    async fn record_query(
        &mut self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        query: Query,
    ) -> Result<Vec<Record>> {
        let mut params = scoped(bot_id(bot)?, spec, scope);
        let (clause, complete) = where_clause(spec, &query.filters, &mut params);
        let select = format!("SELECT r.id, r.data, r.created_at, r.updated_at FROM records r WHERE {clause}");
        if complete && let Some(order) = order_sql(spec, query.order_by.as_ref(), &mut params) {
            // Everything in SQL, paging included.
            let limit = if query.limit == 0 { i64::MAX } else { i64::from(query.limit) };
            params.push(Param::Int(limit));
            params.push(Param::Int(i64::from(query.offset)));
            let n = params.len();
            let sql = format!("{select} ORDER BY {order}r.id LIMIT ${} OFFSET ${n}", n - 1);
            let rows: Vec<RecordRow> = dynamic!(self, query_as, &sql, &params, fetch_all);
            return rows.into_iter().map(record).collect();
        }
        // The rest in Rust, on the rows that pass the SQL part of the filters.
        let rows: Vec<RecordRow> = dynamic!(self, query_as, &select, &params, fetch_all);
        let records = rows.into_iter().map(record).collect::<Result<Vec<_>>>()?;
        Ok(apply_query(records, &query))
    }

    async fn record_count(
        &mut self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        filters: Vec<Filter>,
    ) -> Result<u64> {
        let mut params = scoped(bot_id(bot)?, spec, scope);
        let (clause, complete) = where_clause(spec, &filters, &mut params);
        if complete {
            let sql = format!("SELECT COUNT(*) FROM records r WHERE {clause}");
            let count: i64 = dynamic!(self, query_scalar, &sql, &params, fetch_one);
            return Ok(count.max(0) as u64);
        }
        let sql = format!("SELECT r.id, r.data, r.created_at, r.updated_at FROM records r WHERE {clause}");
        let rows: Vec<RecordRow> = dynamic!(self, query_as, &sql, &params, fetch_all);
        let mut count = 0;
        for row in rows {
            if record_matches(&record(row)?, &filters) {
                count += 1;
            }
        }
        Ok(count)
    }

    async fn record_search(
        &mut self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        text: &str,
        limit: u32,
    ) -> Result<Vec<Hit>> {
        // Searchable fields by name, each at its first place.
        let mut fields: Vec<&String> = Vec::new();
        for field in &spec.searchable {
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
        if fields.is_empty() {
            return Ok(Vec::new());
        }
        let index: BTreeMap<&str, usize> =
            fields.iter().map(|f| (f.as_str(), spec.searchable.iter().position(|s| s == *f).unwrap_or(0))).collect();
        let scope_sql = SCOPE.replace("r.", "t.");
        let mut params = scoped(bot_id(bot)?, spec, scope);
        params.extend(fields.iter().map(|f| Param::Text((*f).clone())));
        let in_fields = format!("t.field IN ({})", placeholders(5, fields.len()));

        let sql = format!("SELECT DISTINCT t.term FROM record_terms t WHERE {scope_sql} AND {in_fields}");
        let vocabulary: Vec<String> = dynamic!(self, query_scalar, &sql, &params, fetch_all);
        let Some(plan) = ferrogram_search::Plan::new(text, vocabulary.iter().map(String::as_str)) else {
            return Ok(Vec::new());
        };

        let sql = format!("SELECT COUNT(*) FROM records r WHERE {SCOPE}");
        let records: i64 = dynamic!(self, query_scalar, &sql, &params[..4], fetch_one);
        let sql = format!(
            "SELECT d.field, CAST(SUM(d.field_len) AS BIGINT) FROM \
             (SELECT DISTINCT t.record_id, t.field, t.field_len FROM record_terms t WHERE {scope_sql} AND {in_fields}) d \
             GROUP BY d.field"
        );
        let lengths: Vec<(String, i64)> = dynamic!(self, query_as, &sql, &params, fetch_all);
        let mut corpus =
            ferrogram_search::Corpus { records: records.max(0) as u64, field_lengths: vec![0; spec.searchable.len()] };
        for (field, total) in lengths {
            if let Some(&i) = index.get(field.as_str()) {
                corpus.field_lengths[i] = total.max(0) as u64;
            }
        }

        let mut with_terms = params.clone();
        with_terms.extend(plan.terms.iter().map(|t| Param::Text(t.clone())));
        let sql = format!(
            "SELECT t.record_id, t.field, t.term, t.frequency, t.field_len FROM record_terms t \
             WHERE {scope_sql} AND {in_fields} AND t.term IN ({})",
            placeholders(params.len() + 1, plan.terms.len())
        );
        let rows: Vec<(i64, String, String, i64, i64)> = dynamic!(self, query_as, &sql, &with_terms, fetch_all);
        let postings: Vec<ferrogram_search::Posting> = rows
            .into_iter()
            .filter_map(|(record, field, term, frequency, field_len)| {
                Some(ferrogram_search::Posting {
                    record,
                    field: *index.get(field.as_str())?,
                    term,
                    frequency: u32::try_from(frequency).ok()?,
                    field_len: u32::try_from(field_len).ok()?,
                })
            })
            .collect();
        let ranked = plan.rank(&corpus, &postings, limit as usize);
        if ranked.is_empty() {
            return Ok(Vec::new());
        }

        let mut params = scoped(bot_id(bot)?, spec, scope);
        params.extend(ranked.iter().map(|r| Param::Int(r.record)));
        let sql = format!(
            "SELECT r.id, r.data, r.created_at, r.updated_at FROM records r WHERE {SCOPE} AND r.id IN ({})",
            placeholders(5, ranked.len())
        );
        let rows: Vec<RecordRow> = dynamic!(self, query_as, &sql, &params, fetch_all);
        let mut by_id = BTreeMap::new();
        for row in rows {
            let record = record(row)?;
            by_id.insert(record.id, record);
        }
        Ok(ranked
            .into_iter()
            .filter_map(|r| Some(Hit { record: by_id.remove(&r.record)?, score: r.score, exact: r.exact }))
            .collect())
    }
}

fn engine_error(error: Error) -> StoreError {
    StoreError(error.to_string())
}

/// Runs one `Conn` method in a transaction and commits it.
macro_rules! in_tx {
    ($store:expr, $method:ident($($arg:expr),*)) => {
        async {
            let mut tx = $store.transaction().await?;
            let out = tx.conn().$method($($arg),*).await?;
            tx.commit().await?;
            Ok::<_, Error>(out)
        }
        .await
        .map_err(engine_error)
    };
}

impl Store {
    /// Rebuilds the collection's index tables first if the spec changed (see
    /// [`Conn::ensure_spec`]); reads then run on a pooled connection.
    async fn refresh_spec(&self, bot: u64, spec: &CollectionSpec) -> Result<()> {
        let stale = {
            let mut pooled = self.acquire().await?;
            let stored = pooled.conn().stored_spec(bot_id(bot)?, spec).await?;
            stored.is_some_and(|stored| stored != signature(spec))
        };
        if stale {
            let mut tx = self.transaction().await?;
            tx.conn().ensure_spec(bot, spec).await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

/// A record with whose it is, as the administration of a collection sees it (every scope).
#[derive(Debug, Clone, PartialEq)]
pub struct ScopedRecord {
    pub scope: Scope,
    pub record: Record,
}

type ScopedRow = (i64, String, i64, String, i64, i64);

fn scoped_record((id, kind, owner, data, created_at, updated_at): ScopedRow) -> Result<ScopedRecord> {
    Ok(ScopedRecord { scope: scope_of(&kind, owner), record: record((id, data, created_at, updated_at))? })
}

/// Reading and loading a collection across its scopes, for the REST API and the dashboard: a
/// bot's steps never do this (they see only their own user's, chat's or bot's records).
impl Store {
    /// Every record of the bot's collection, in every scope, by id ascending.
    pub async fn collection_records(&self, bot: u64, collection: &str) -> Result<Vec<ScopedRecord>> {
        const SQL: &str = "SELECT id, scope, owner_id, data, created_at, updated_at FROM records \
             WHERE bot_id = $1 AND collection = $2 ORDER BY id";
        let bot = bot_id(bot)?;
        let mut pooled = self.acquire().await?;
        let mut conn = pooled.conn();
        let rows: Vec<ScopedRow> =
            on!(&mut conn, c => sqlx::query_as(SQL).bind(bot).bind(collection).fetch_all(c).await?);
        rows.into_iter().map(scoped_record).collect()
    }

    /// One record of the bot's collection, whatever its scope; `None` if there is none.
    pub async fn collection_record(&self, bot: u64, collection: &str, id: i64) -> Result<Option<ScopedRecord>> {
        const SQL: &str = "SELECT id, scope, owner_id, data, created_at, updated_at FROM records \
             WHERE bot_id = $1 AND collection = $2 AND id = $3";
        let bot = bot_id(bot)?;
        let mut pooled = self.acquire().await?;
        let mut conn = pooled.conn();
        let row: Option<ScopedRow> =
            on!(&mut conn, c => sqlx::query_as(SQL).bind(bot).bind(collection).bind(id).fetch_optional(c).await?);
        row.map(scoped_record).transpose()
    }

    /// Creates every record (fields already checked against the declaration) in one
    /// transaction: all are created, or none is. Returns them with their new ids, in order.
    pub async fn import_records(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        rows: Vec<(Scope, Map<String, Value>)>,
    ) -> Result<Vec<Record>> {
        let mut tx = self.transaction().await?;
        let mut created = Vec::with_capacity(rows.len());
        for (scope, fields) in rows {
            created.push(tx.conn().record_create(bot, spec, scope, fields).await?);
        }
        tx.commit().await?;
        Ok(created)
    }
}

/// Runs one `Conn` method on a pooled connection, after [`Store::refresh_spec`].
macro_rules! pooled {
    ($store:expr, $bot:expr, $spec:expr, $method:ident($($arg:expr),*)) => {
        async {
            $store.refresh_spec($bot, $spec).await?;
            let mut pooled = $store.acquire().await?;
            pooled.conn().$method($($arg),*).await
        }
        .await
        .map_err(engine_error)
    };
}

impl CollectionStore for Store {
    fn create(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        fields: Map<String, Value>,
    ) -> BoxFuture<'_, Result<Record, StoreError>> {
        let spec = spec.clone();
        Box::pin(async move { in_tx!(self, record_create(bot, &spec, scope, fields)) })
    }

    fn update(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        id: i64,
        patch: Map<String, Value>,
    ) -> BoxFuture<'_, Result<Option<Record>, StoreError>> {
        let spec = spec.clone();
        Box::pin(async move { in_tx!(self, record_update(bot, &spec, scope, id, patch)) })
    }

    fn delete(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        id: i64,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let spec = spec.clone();
        Box::pin(async move { in_tx!(self, record_delete(bot, &spec, scope, id)) })
    }

    fn get(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        id: i64,
    ) -> BoxFuture<'_, Result<Option<Record>, StoreError>> {
        let spec = spec.clone();
        Box::pin(async move { pooled!(self, bot, &spec, record_get(bot, &spec, scope, id)) })
    }

    fn query(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        query: Query,
    ) -> BoxFuture<'_, Result<Vec<Record>, StoreError>> {
        let spec = spec.clone();
        Box::pin(async move { pooled!(self, bot, &spec, record_query(bot, &spec, scope, query)) })
    }

    fn count(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        filters: Vec<Filter>,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        let spec = spec.clone();
        Box::pin(async move { pooled!(self, bot, &spec, record_count(bot, &spec, scope, filters)) })
    }

    fn search(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        text: &str,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<Hit>, StoreError>> {
        let spec = spec.clone();
        let text = text.to_owned();
        Box::pin(async move { pooled!(self, bot, &spec, record_search(bot, &spec, scope, &text, limit)) })
    }
}
