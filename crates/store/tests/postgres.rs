//! The store's suite on PostgreSQL: a fresh database per test on
//! `postgres://postgres@127.0.0.1:5432/test` (or `root@`, or `FERROGRAM_TEST_POSTGRES_URL`),
//! dropped afterwards. Skipped loudly when unreachable, unless `FERROGRAM_REQUIRE_POSTGRES=1`.

mod common;

crate::suite!(common::postgres);

#[tokio::test]
async fn a_postgres_url_opens_postgres() {
    let Some(db) = common::postgres().await else { return };
    assert_eq!(db.store.backend(), ferrogram_store::Backend::Postgres);
    db.cleanup().await;
}
