//! The store's suite on SQLite (a temporary file per test).

mod common;

crate::suite!(common::sqlite);

#[tokio::test]
async fn state_store_contract_on_memory_store() {
    common::state_store_contract_on_memory().await;
}

#[tokio::test]
async fn an_unknown_url_scheme_is_refused_without_echoing_the_url() {
    let error = ferrogram_store::Store::open("mysql://user:secret@host/db").await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("`mysql`") && !message.contains("secret"), "{message}");
}

#[tokio::test]
async fn sqlite_creates_the_file_and_its_folder_is_required() {
    let dir = std::env::temp_dir().join(format!("ferrogram-store-missing-{}", fastrand::u64(..)));
    let url = format!("sqlite://{}/bots.db", dir.display());
    assert!(ferrogram_store::Store::open(&url).await.is_err(), "a missing folder is an error, not created");
    std::fs::create_dir_all(&dir).unwrap();
    let store = ferrogram_store::Store::open(&url).await.unwrap();
    assert_eq!(store.backend(), ferrogram_store::Backend::Sqlite);
    store.close().await;
    assert!(dir.join("bots.db").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn sqlite_in_memory_works_with_one_connection() {
    let store = ferrogram_store::Store::open("sqlite::memory:").await.unwrap();
    store.set_var(1, ferrogram_core::Scope::Bot, "a", Some(&serde_json::json!(1))).await.unwrap();
    assert_eq!(store.load_vars(1, ferrogram_core::Scope::Bot).await.unwrap().len(), 1);
}

#[tokio::test]
async fn sqlite_files_are_in_wal_mode() {
    use sqlx::Connection;
    let db = common::sqlite().await.unwrap();
    db.store.set_var(1, ferrogram_core::Scope::Bot, "a", Some(&serde_json::json!(1))).await.unwrap();
    let mut raw = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut raw).await.unwrap();
    assert_eq!(mode, "wal");
    raw.close().await.unwrap();
    db.cleanup().await;
}
