//! Typed data collections that bot files declare, behind [`CollectionStore`] so the same steps
//! run on memory, SQLite and PostgreSQL. Records are JSON objects; the engine checks their
//! types against the declaration before they reach the store. How every store filters and
//! orders them is defined once, in [`crate::comparison`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::state_store::{BoxFuture, Scope, StoreError};

/// One stored record: its id (unique per bot and collection) and its fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: i64,
    pub fields: Map<String, Value>,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
}

/// How a query compares a field with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// The field's value is one of the values of a JSON array.
    In,
    /// The field's value is none of the values of a JSON array.
    NotIn,
}

impl Op {
    /// The operator a bot file's `where` (and the REST API's record filter) writes by this name:
    /// `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `in`, `not_in`; `None` for another name.
    pub fn from_name(name: &str) -> Option<Op> {
        Some(match name {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "lt" => Op::Lt,
            "le" => Op::Le,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "in" => Op::In,
            "not_in" => Op::NotIn,
            _ => return None,
        })
    }
}

/// One condition of a query; all conditions must hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    pub field: String,
    pub op: Op,
    pub value: Value,
}

/// Which records of a collection, in which order, how many.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Query {
    pub filters: Vec<Filter>,
    /// Field to sort by and whether descending; by id ascending when absent.
    pub order_by: Option<(String, bool)>,
    pub limit: u32,
    pub offset: u32,
}

/// What a collection looks like to the store: its searchable fields and indexed fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CollectionSpec {
    pub name: String,
    /// Fields the full-text search covers, most important first (earlier fields weigh more).
    pub searchable: Vec<String>,
    /// Fields queries filter or sort by.
    pub indexed: Vec<String>,
}

/// A search result: the record, its relevance (higher is better) and whether every query word
/// matched exactly (after stemming) rather than only as a near match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub record: Record,
    pub score: f64,
    pub exact: bool,
}

/// Records per (bot, collection, scope). A record is only ever visible in the scope it was
/// created in: another user's, chat's or bot's records never come back from any call.
pub trait CollectionStore: Send + Sync + 'static {
    fn create(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        fields: Map<String, Value>,
    ) -> BoxFuture<'_, Result<Record, StoreError>>;
    /// Merges `patch` into the record's fields; `None` if no such record in this scope.
    fn update(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        id: i64,
        patch: Map<String, Value>,
    ) -> BoxFuture<'_, Result<Option<Record>, StoreError>>;
    /// `false` if no such record in this scope.
    fn delete(&self, bot: u64, spec: &CollectionSpec, scope: Scope, id: i64)
    -> BoxFuture<'_, Result<bool, StoreError>>;
    fn get(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        id: i64,
    ) -> BoxFuture<'_, Result<Option<Record>, StoreError>>;
    fn query(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        query: Query,
    ) -> BoxFuture<'_, Result<Vec<Record>, StoreError>>;
    fn count(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        filters: Vec<Filter>,
    ) -> BoxFuture<'_, Result<u64, StoreError>>;
    /// Full-text search over the spec's searchable fields: typo-tolerant, stemmed (English and
    /// Russian), best first, at most `limit` hits.
    fn search(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        text: &str,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<Hit>, StoreError>>;
}

// ---- Semantics shared by every store ----------------------------------------------------------
//
