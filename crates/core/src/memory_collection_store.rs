//! Collections in memory: one of the [`CollectionStore`] backends (the database ones are in
//! the store crate).

use serde_json::{Map, Value};

use crate::collection_store::{CollectionSpec, CollectionStore, Filter, Hit, Query, Record};
use crate::comparison::{apply_query, record_matches, record_terms};
use crate::state_store::{BoxFuture, Scope, StoreError};

/// Collections in memory: for the sandbox, tests and runs without a database. Same semantics
/// as the database stores (the same filter, order and search functions).
#[derive(Debug, Default)]
pub struct MemoryCollections {
    inner: parking_lot::Mutex<MemoryInner>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    /// The last id given out per (bot, collection): ids are never reused.
    last_ids: std::collections::HashMap<(u64, String), i64>,
    records: std::collections::HashMap<(u64, String, Scope), std::collections::BTreeMap<i64, Record>>,
}

impl MemoryCollections {
    pub fn new() -> Self {
        Self::default()
    }

    fn search_now(&self, bot: u64, spec: &CollectionSpec, scope: Scope, text: &str, limit: u32) -> Vec<Hit> {
        let inner = self.inner.lock();
        let Some(records) = inner.records.get(&(bot, spec.name.clone(), scope)) else { return Vec::new() };
        let mut corpus =
            ferrogram_search::Corpus { records: records.len() as u64, field_lengths: vec![0; spec.searchable.len()] };
        let mut all = Vec::new();
        let mut vocabulary = std::collections::BTreeSet::new();
        for record in records.values() {
            for (field, terms) in record_terms(spec, &record.fields) {
                corpus.field_lengths[field] += u64::from(terms.len);
                for (term, frequency) in terms.frequencies {
                    vocabulary.insert(term.clone());
                    all.push(ferrogram_search::Posting {
                        record: record.id,
                        field,
                        term,
                        frequency,
                        field_len: terms.len,
                    });
                }
            }
        }
        let Some(plan) = ferrogram_search::Plan::new(text, vocabulary.iter().map(String::as_str)) else {
            return Vec::new();
        };
        all.retain(|p| plan.terms.contains(&p.term));
        let ranked = plan.rank(&corpus, &all, limit as usize);
        ranked
            .into_iter()
            .filter_map(|r| Some(Hit { record: records.get(&r.record)?.clone(), score: r.score, exact: r.exact }))
            .collect()
    }
}

impl CollectionStore for MemoryCollections {
    fn create(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        fields: Map<String, Value>,
    ) -> BoxFuture<'_, Result<Record, StoreError>> {
        let mut inner = self.inner.lock();
        let last_id = inner.last_ids.entry((bot, spec.name.clone())).or_default();
        *last_id += 1;
        let at = now();
        let record = Record { id: *last_id, fields, created_at: at, updated_at: at };
        inner.records.entry((bot, spec.name.clone(), scope)).or_default().insert(record.id, record.clone());
        Box::pin(async move { Ok(record) })
    }

    fn update(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        id: i64,
        patch: Map<String, Value>,
    ) -> BoxFuture<'_, Result<Option<Record>, StoreError>> {
        let mut inner = self.inner.lock();
        let record = inner.records.get_mut(&(bot, spec.name.clone(), scope)).and_then(|records| records.get_mut(&id));
        let updated = record.map(|record| {
            record.fields.extend(patch);
            record.updated_at = now();
            record.clone()
        });
        Box::pin(async move { Ok(updated) })
    }

    fn delete(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        id: i64,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let mut inner = self.inner.lock();
        let removed = inner
            .records
            .get_mut(&(bot, spec.name.clone(), scope))
            .is_some_and(|records| records.remove(&id).is_some());
        Box::pin(async move { Ok(removed) })
    }

    fn get(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        id: i64,
    ) -> BoxFuture<'_, Result<Option<Record>, StoreError>> {
        let inner = self.inner.lock();
        let record = inner.records.get(&(bot, spec.name.clone(), scope)).and_then(|records| records.get(&id)).cloned();
        Box::pin(async move { Ok(record) })
    }

    fn query(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        query: Query,
    ) -> BoxFuture<'_, Result<Vec<Record>, StoreError>> {
        let inner = self.inner.lock();
        let all: Vec<Record> = inner
            .records
            .get(&(bot, spec.name.clone(), scope))
            .map(|records| records.values().cloned().collect())
            .unwrap_or_default();
        drop(inner);
        Box::pin(async move { Ok(apply_query(all, &query)) })
    }

    fn count(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        filters: Vec<Filter>,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        let inner = self.inner.lock();
        let count = inner
            .records
            .get(&(bot, spec.name.clone(), scope))
            .map_or(0, |records| records.values().filter(|r| record_matches(r, &filters)).count() as u64);
        Box::pin(async move { Ok(count) })
    }

    fn search(
        &self,
        bot: u64,
        spec: &CollectionSpec,
        scope: Scope,
        text: &str,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<Hit>, StoreError>> {
        let hits = self.search_now(bot, spec, scope, text, limit);
        Box::pin(async move { Ok(hits) })
    }
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
