//! Migrations per backend, embedded in the binary and run with sqlx's migrator (which records
//! them in `_sqlx_migrations` with a checksum, and on PostgreSQL holds an advisory lock so that
//! processes starting together migrate once).
//!
//! They are listed here by hand rather than with `sqlx::migrate!`, which would pull sqlx's
//! proc-macro crate (and a second build of both drivers) into the build; a test checks that
//! the lists match the `migrations/` folders.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migrate, Migration, MigrationSource, MigrationType, Migrator};

use crate::{Pool, Result, Store};

/// (version, description, SQL) of each migration, in order.
type Embedded = &'static [(i64, &'static str, &'static str)];

pub(crate) const SQLITE: Embedded = &[
    (1, "initial", include_str!("../migrations/sqlite/0001_initial.sql")),
    (2, "collections", include_str!("../migrations/sqlite/0002_collections.sql")),
    (3, "tenancy", include_str!("../migrations/sqlite/0003_tenancy.sql")),
    (4, "outbox", include_str!("../migrations/sqlite/0004_outbox.sql")),
    (5, "people", include_str!("../migrations/sqlite/0005_people.sql")),
    (6, "dead_letters", include_str!("../migrations/sqlite/0006_dead_letters.sql")),
    (7, "secrets", include_str!("../migrations/sqlite/0007_secrets.sql")),
    (8, "bot_lifecycle", include_str!("../migrations/sqlite/0008_bot_lifecycle.sql")),
    (9, "api", include_str!("../migrations/sqlite/0009_api.sql")),
    (10, "accounts", include_str!("../migrations/sqlite/0010_accounts.sql")),
    (11, "blocks_and_stats", include_str!("../migrations/sqlite/0011_blocks_and_stats.sql")),
    (12, "broadcasts", include_str!("../migrations/sqlite/0012_broadcasts.sql")),
    (13, "event_webhooks", include_str!("../migrations/sqlite/0013_event_webhooks.sql")),
    (14, "drafts", include_str!("../migrations/sqlite/0014_drafts.sql")),
    (15, "active_users_retention", include_str!("../migrations/sqlite/0015_active_users_retention.sql")),
];

pub(crate) const POSTGRES: Embedded = &[
    (1, "initial", include_str!("../migrations/postgres/0001_initial.sql")),
    (2, "collections", include_str!("../migrations/postgres/0002_collections.sql")),
    (3, "tenancy", include_str!("../migrations/postgres/0003_tenancy.sql")),
    (4, "outbox", include_str!("../migrations/postgres/0004_outbox.sql")),
    (5, "people", include_str!("../migrations/postgres/0005_people.sql")),
    (6, "dead_letters", include_str!("../migrations/postgres/0006_dead_letters.sql")),
    (7, "secrets", include_str!("../migrations/postgres/0007_secrets.sql")),
    (8, "bot_lifecycle", include_str!("../migrations/postgres/0008_bot_lifecycle.sql")),
    (9, "api", include_str!("../migrations/postgres/0009_api.sql")),
    (10, "accounts", include_str!("../migrations/postgres/0010_accounts.sql")),
    (11, "blocks_and_stats", include_str!("../migrations/postgres/0011_blocks_and_stats.sql")),
    (12, "broadcasts", include_str!("../migrations/postgres/0012_broadcasts.sql")),
    (13, "event_webhooks", include_str!("../migrations/postgres/0013_event_webhooks.sql")),
    (14, "drafts", include_str!("../migrations/postgres/0014_drafts.sql")),
    (15, "active_users_retention", include_str!("../migrations/postgres/0015_active_users_retention.sql")),
];

#[derive(Debug)]
struct Source(Embedded);

impl<'s> MigrationSource<'s> for Source {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        let migrations = self
            .0
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(version, Cow::Borrowed(description), MigrationType::Simple, Cow::Borrowed(sql), false)
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

impl Store {
    /// Applies the migrations this build knows and the database has not seen yet; returns
    /// their versions (empty when the schema was up to date). Fails if an applied migration
    /// was changed or the database is newer than this build.
    pub async fn migrate(&self) -> Result<Vec<i64>> {
        match &self.pool {
            Pool::Sqlite(pool) => {
                let migrator = Migrator::new(Source(SQLITE)).await?;
                let before = {
                    let mut conn = pool.acquire().await?;
                    conn.ensure_migrations_table().await?;
                    conn.list_applied_migrations().await?
                };
                migrator.run(pool).await?;
                Ok(pending(SQLITE, &before))
            }
            Pool::Postgres(pool) => {
                let migrator = Migrator::new(Source(POSTGRES)).await?;
                let before = {
                    let mut conn = pool.acquire().await?;
                    conn.ensure_migrations_table().await?;
                    conn.list_applied_migrations().await?
                };
                migrator.run(pool).await?;
                Ok(pending(POSTGRES, &before))
            }
        }
    }
}

impl Store {
    /// The migrations this build knows that the database has not applied, without applying
    /// them (empty when the schema is up to date): what a readiness check asks. Fails when the
    /// database cannot be reached.
    pub async fn pending_migrations(&self) -> Result<Vec<i64>> {
        match &self.pool {
            Pool::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                conn.ensure_migrations_table().await?;
                Ok(pending(SQLITE, &conn.list_applied_migrations().await?))
            }
            Pool::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                conn.ensure_migrations_table().await?;
                Ok(pending(POSTGRES, &conn.list_applied_migrations().await?))
            }
        }
    }
}

fn pending(all: Embedded, applied: &[sqlx::migrate::AppliedMigration]) -> Vec<i64> {
    all.iter().map(|m| m.0).filter(|v| !applied.iter().any(|a| a.version == *v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Opening and migrating can run in a spawned task (a multi-threaded runtime's).
    #[allow(dead_code)]
    fn futures_are_send(store: &Store) {
        fn send<T: Send>(_: T) {}
        send(Store::open("sqlite::memory:"));
        send(store.migrate());
        send(store.transaction());
        send(store.load_chat(1, 1));
    }

    fn listed_on_disk(backend: &str) -> Vec<(i64, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
        let mut files: Vec<(i64, String)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".sql"))
            .map(|name| {
                let (version, rest) = name.split_once('_').unwrap();
                (version.parse().unwrap(), rest.trim_end_matches(".sql").to_owned())
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    fn every_migration_file_is_embedded_in_order() {
        for (backend, embedded) in [("sqlite", SQLITE), ("postgres", POSTGRES)] {
            let listed: Vec<(i64, String)> = embedded.iter().map(|m| (m.0, m.1.to_owned())).collect();
            assert_eq!(listed, listed_on_disk(backend), "{backend}: src/migrate.rs lists other migrations");
        }
        let versions = |e: Embedded| e.iter().map(|m| m.0).collect::<Vec<_>>();
        assert_eq!(versions(SQLITE), versions(POSTGRES), "both backends have the same migrations");
    }
}
