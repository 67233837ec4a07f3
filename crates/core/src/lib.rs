//! Ferrogram's contracts: what the engine calls and the stores implement.
//!
//! On the path of an update (docs/architecture.md) this crate is the hand-off to durable
//! storage: the receiving stage stores updates through [`StateStore`]'s inbox methods, the
//! interpreter reads and writes conversation state, variables and [`CollectionStore`] records,
//! and the delivering stage writes each handler's [`Commit`] and reads the outbox back. The
//! store crate implements both traits on SQLite and PostgreSQL without depending on the
//! interpreter; the in-memory backends live here, one short file each.
//!
//! - [`state_store`]: the [`StateStore`] trait and what it keeps (chat states, variables,
//!   inbox, outbox, dead letters, job claims), with the durability contract of each method.
//! - [`collection_store`]: the [`CollectionStore`] trait, records and queries.
//! - [`comparison`]: the one definition of how records are filtered and ordered, which the
//!   SQL of the database stores is checked against.
//! - [`memory_state_store`], [`memory_collection_store`]: the in-memory backends.
//! - [`sandbox_bot_id`]: the id a sandbox bot gets from its name.

pub mod collection_store;
pub mod comparison;
pub mod memory_collection_store;
pub mod memory_state_store;
pub mod state_store;

pub use collection_store::{CollectionSpec, CollectionStore, Filter, Hit, Op, Query, Record};
pub use comparison::{
    PSEUDO_FIELDS, apply_query, compare_records, compare_values, field_value, filter_matches, record_matches,
    record_terms, value_kind, value_text,
};
pub use memory_collection_store::MemoryCollections;
pub use memory_state_store::MemoryStore;
pub use state_store::{
    ACTIVE_USERS_KEEP_DAYS, BoxFuture, ChatState, Commit, DeadLetter, FormProgress, Frame, Outgoing, PendingSend,
    Received, Resume, Scope, StateStore, StepsAt, StoreError, StoredDeadLetter, StoredUpdate, Tally, TallyOutcome,
};

/// A bot's id in the sandbox, from its name (`ferrogram serve` and `run --sandbox`): stable
/// across restarts and unaffected by other bots coming and going, so saved conversations stay
/// with their bot. Export and import resolve a bot named on the command line by it.
pub fn sandbox_bot_id(name: &str) -> u64 {
    // FNV-1a: tiny, stable across Rust versions (unlike the std hasher).
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    1_000_000 + hash % 1_000_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_bot_ids_are_stable_and_distinct() {
        assert_eq!(sandbox_bot_id("hello"), sandbox_bot_id("hello"));
        assert_ne!(sandbox_bot_id("hello"), sandbox_bot_id("menu-form"));
        assert!((1_000_000..1_001_000_000).contains(&sandbox_bot_id("anything")));
    }
}
