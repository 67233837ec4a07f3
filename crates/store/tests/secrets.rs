//! Secrets at rest on SQLite and PostgreSQL (each case on a fresh database of each backend;
//! PostgreSQL skipped loudly when unreachable, unless `FERROGRAM_REQUIRE_POSTGRES=1`): sealed
//! under the store's key and read back, never stored in clear; a wrong key, an altered or moved
//! ciphertext refused clearly; rotation all at once or not at all, also against writers racing
//! it; exports without secrets unless asked, imports sealing them again.

mod common;

use ferrogram_store::{Error, ImportOptions, SecretKey, Store, StoredStatus};
use serde_json::Value;

crate::both!(
    secrets_round_trip_sealed_under_the_key,
    secrets_stay_with_their_workspace_and_bot,
    a_wrong_key_is_refused_clearly_and_changes_nothing,
    a_moved_or_altered_ciphertext_does_not_decrypt,
    rotation_re_encrypts_every_secret_at_once,
    a_failed_rotation_changes_nothing,
    writes_racing_a_rotation_never_mix_keys,
    exports_leave_secrets_out_unless_asked_and_imports_seal_them_again,
    secret_values_open_one_owners_secrets,
    exports_carry_the_workspace_secrets_and_the_bot_lifecycle,
);

const TOKEN: &str = "5005:SECRET-shop-token";

/// `(name, key_id, nonce, ciphertext)` of every stored secret, by id, read beside the store.
async fn rows(url: &str) -> Vec<(String, String, Vec<u8>, Vec<u8>)> {
    use sqlx::Connection;
    const SQL: &str = "SELECT name, key_id, nonce, ciphertext FROM secrets ORDER BY id";
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        let rows = sqlx::query_as(SQL).fetch_all(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        rows
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        let rows = sqlx::query_as(SQL).fetch_all(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        rows
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

async fn secrets_round_trip_sealed_under_the_key(bare: Store, url: String) {
    let ws = bare.create_workspace("acme").await.unwrap();
    let shop = bare.create_bot(ws, "shop", None).await.unwrap().unwrap();
    // Without a key: nothing to read is fine, a write is refused.
    assert_eq!(bare.secret(ws, Some(shop), "token").await.unwrap(), None);
    assert!(matches!(bare.put_secret(ws, Some(shop), "token", TOKEN).await, Err(Error::NoSecretKey)));
    assert_eq!(bare.secret_key_id(), None);

    let key = SecretKey::generate().unwrap();
    let store = bare.with_secret_key(key.clone());
    assert_eq!(store.secret_key_id(), Some(key.id()));
    assert!(store.put_secret(ws, Some(shop), "token", TOKEN).await.unwrap());
    assert!(store.put_secret(ws, None, "sonarr.api-key", "k-1").await.unwrap());
    assert_eq!(store.secret(ws, Some(shop), "token").await.unwrap().as_deref(), Some(TOKEN));
    assert_eq!(store.secret(ws, None, "sonarr.api-key").await.unwrap().as_deref(), Some("k-1"));
    assert_eq!(store.secret(ws, Some(shop), "sonarr.api-key").await.unwrap(), None);
    assert_eq!(store.secret(ws, None, "token").await.unwrap(), None);
    assert_eq!(store.secret_key_ids().await.unwrap(), [key.id()]);

    // Stored sealed: the key's id, a 24-byte nonce, never the value.
    let before = rows(&url).await;
    assert_eq!(before.len(), 2);
    for (name, key_id, nonce, ciphertext) in &before {
        assert_eq!(key_id, key.id(), "{name}");
        assert_eq!(nonce.len(), 24, "{name}");
        assert!(!contains(ciphertext, b"SECRET") && !contains(ciphertext, b"k-1"), "{name}");
    }
    // The same value again: a fresh nonce and ciphertext, the same value read.
    assert!(store.put_secret(ws, Some(shop), "token", TOKEN).await.unwrap());
    let again = rows(&url).await;
    assert_eq!(again.len(), 2, "replaced, not added");
    assert_ne!((&again[0].2, &again[0].3), (&before[0].2, &before[0].3));
    assert_eq!(store.secret(ws, Some(shop), "token").await.unwrap().as_deref(), Some(TOKEN));

    // Listed without values, and without the key.
    let listed = bare.secrets(ws).await.unwrap();
    let names: Vec<(Option<i64>, &str)> = listed.iter().map(|s| (s.bot, s.name.as_str())).collect();
    assert_eq!(names, [(None, "sonarr.api-key"), (Some(shop), "token")]);
    assert!(listed.iter().all(|s| s.key_id == key.id() && s.updated_at >= s.created_at));
    assert!(bare.has_secret(ws, Some(shop), "token").await.unwrap());
    assert!(!bare.has_secret(ws, Some(shop), "other").await.unwrap());
    // Reading a stored one without the key: refused, not empty.
    assert!(matches!(bare.secret(ws, Some(shop), "token").await, Err(Error::NoSecretKey)));

    // Bad names and values: refused, nothing stored.
    for bad in ["", "two words", "ключ"] {
        assert!(matches!(store.put_secret(ws, None, bad, "v").await, Err(Error::Refused(_))), "{bad:?}");
    }
    let huge = "z".repeat(ferrogram_store::MAX_SECRET_VALUE + 1);
    let refused = store.put_secret(ws, None, "huge", &huge).await.unwrap_err().to_string();
    assert!(!refused.contains("zzz"), "{refused}");
    assert_eq!(rows(&url).await.len(), 2);

    // Forgotten; and gone with its bot.
    assert!(store.delete_secret(ws, None, "sonarr.api-key").await.unwrap());
    assert!(!store.delete_secret(ws, None, "sonarr.api-key").await.unwrap());
    assert_eq!(store.secret(ws, None, "sonarr.api-key").await.unwrap(), None);
    common::raw_execute(&url, &format!("DELETE FROM bots WHERE id = {shop}")).await;
    assert!(rows(&url).await.is_empty());
    assert_eq!(store.secret_key_ids().await.unwrap(), Vec::<String>::new());
}

async fn secrets_stay_with_their_workspace_and_bot(bare: Store, _url: String) {
    let store = bare.with_secret_key(SecretKey::generate().unwrap());
    let (a, b) = (store.create_workspace("a").await.unwrap(), store.create_workspace("b").await.unwrap());
    let shop = store.create_bot(a, "shop", None).await.unwrap().unwrap();
    assert!(store.put_secret(a, Some(shop), "token", TOKEN).await.unwrap());
    // Another workspace neither reads, lists nor writes the bot's secrets.
    assert_eq!(store.secret(b, Some(shop), "token").await.unwrap(), None);
    assert!(store.secrets(b).await.unwrap().is_empty());
    assert!(!store.has_secret(b, Some(shop), "token").await.unwrap());
    assert!(!store.put_secret(b, Some(shop), "token", "1:other").await.unwrap());
    assert!(!store.delete_secret(b, Some(shop), "token").await.unwrap());
    // A missing workspace or bot gets nothing.
    assert!(!store.put_secret(b + 1000, None, "token", "x").await.unwrap());
    assert!(!store.put_secret(a, Some(shop + 1000), "token", "x").await.unwrap());
    assert_eq!(store.secret(a, Some(shop), "token").await.unwrap().as_deref(), Some(TOKEN));
    assert_eq!(store.secrets(a).await.unwrap().len(), 1);
}

async fn a_wrong_key_is_refused_clearly_and_changes_nothing(bare: Store, url: String) {
    let (first, second) = (SecretKey::generate().unwrap(), SecretKey::generate().unwrap());
    let store = bare.with_secret_key(first.clone());
    let ws = store.create_workspace("acme").await.unwrap();
    let shop = store.create_bot(ws, "shop", None).await.unwrap().unwrap();
    assert!(store.put_secret(ws, Some(shop), "token", TOKEN).await.unwrap());
    let before = rows(&url).await;

    let wrong = bare.with_secret_key(second.clone());
    let error = wrong.secret(ws, Some(shop), "token").await.unwrap_err();
    assert!(
        matches!(&error, Error::WrongSecretKey { stored, given } if stored == first.id() && given == second.id()),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("encrypted with another key") && message.contains(first.id()), "{message}");
    assert!(!message.contains("SECRET"), "{message}");
    // Writing under the wrong key is refused too: the database never mixes keys.
    for (bot, name) in [(Some(shop), "token"), (None, "new")] {
        let error = wrong.put_secret(ws, bot, name, "1:x").await.unwrap_err();
        assert!(matches!(error, Error::WrongSecretKey { .. }), "{error:?}");
    }
    assert_eq!(rows(&url).await, before);
    assert_eq!(store.secret(ws, Some(shop), "token").await.unwrap().as_deref(), Some(TOKEN));
    assert_eq!(wrong.secret_key_ids().await.unwrap(), [first.id()]);
}

async fn a_moved_or_altered_ciphertext_does_not_decrypt(bare: Store, url: String) {
    let store = bare.with_secret_key(SecretKey::generate().unwrap());
    let ws = store.create_workspace("acme").await.unwrap();
    let shop = store.create_bot(ws, "shop", None).await.unwrap().unwrap();
    let help = store.create_bot(ws, "help", None).await.unwrap().unwrap();
    assert!(store.put_secret(ws, Some(shop), "token", TOKEN).await.unwrap());
    assert!(store.put_secret(ws, Some(help), "token", "6006:help-token").await.unwrap());
    // shop's sealed token copied into help's row: it does not open there (its place differs).
    common::raw_execute(
        &url,
        &format!(
            "UPDATE secrets SET nonce = (SELECT nonce FROM secrets WHERE bot_id = {shop}), \
             ciphertext = (SELECT ciphertext FROM secrets WHERE bot_id = {shop}) WHERE bot_id = {help}"
        ),
    )
    .await;
    let error = store.secret(ws, Some(help), "token").await.unwrap_err();
    assert!(matches!(error, Error::SecretAltered { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("altered or copied") && !message.contains("SECRET"), "{message}");
    // shop's ciphertext with another value's nonce: altered.
    assert!(store.put_secret(ws, None, "spare", "spare-value").await.unwrap());
    common::raw_execute(
        &url,
        &format!("UPDATE secrets SET nonce = (SELECT nonce FROM secrets WHERE name = 'spare') WHERE bot_id = {shop}"),
    )
    .await;
    assert_eq!(store.secret(ws, Some(shop), "token").await.unwrap_err().to_string(), message);
    assert_eq!(store.secret(ws, None, "spare").await.unwrap().as_deref(), Some("spare-value"));
}

async fn rotation_re_encrypts_every_secret_at_once(bare: Store, url: String) {
    let (old, new) = (SecretKey::generate().unwrap(), SecretKey::generate().unwrap());
    let store = bare.with_secret_key(old.clone());
    let (a, b) = (store.create_workspace("a").await.unwrap(), store.create_workspace("b").await.unwrap());
    let mut expected = Vec::new();
    for (ws, bot_name) in [(a, "shop"), (a, "help"), (b, "news")] {
        let bot = store.create_bot(ws, bot_name, None).await.unwrap().unwrap();
        let value = format!("{}:{bot_name}-secret", 7000 + bot);
        assert!(store.put_secret(ws, Some(bot), "token", &value).await.unwrap());
        expected.push((ws, Some(bot), "token", value));
    }
    assert!(store.put_secret(b, None, "sonarr", "workspace-key").await.unwrap());
    expected.push((b, None, "sonarr", "workspace-key".to_owned()));
    let before = rows(&url).await;

    assert!(matches!(bare.rotate_secrets(&new).await, Err(Error::NoSecretKey)));
    let same = store.rotate_secrets(&old).await.unwrap_err().to_string();
    assert!(same.contains("is the current one"), "{same}");
    assert_eq!(rows(&url).await, before);

    assert_eq!(store.rotate_secrets(&new).await.unwrap(), 4);
    let after = rows(&url).await;
    assert_eq!(after.len(), 4);
    for (was, now) in before.iter().zip(&after) {
        assert_eq!(now.1, new.id(), "{}", now.0);
        assert_ne!((&was.2, &was.3), (&now.2, &now.3), "{}: sealed again", now.0);
    }
    assert_eq!(store.secret_key_ids().await.unwrap(), [new.id()]);
    let rotated = bare.with_secret_key(new.clone());
    for (ws, bot, name, value) in &expected {
        assert_eq!(rotated.secret(*ws, *bot, name).await.unwrap().as_deref(), Some(value.as_str()));
        let refused = store.secret(*ws, *bot, name).await.unwrap_err();
        assert!(matches!(refused, Error::WrongSecretKey { .. }), "{refused:?}");
    }
    // The old key writes nothing any more; the new one does.
    assert!(matches!(store.put_secret(a, None, "late", "v").await, Err(Error::WrongSecretKey { .. })));
    assert!(rotated.put_secret(a, None, "late", "v").await.unwrap());
}

async fn a_failed_rotation_changes_nothing(bare: Store, url: String) {
    let (old, new) = (SecretKey::generate().unwrap(), SecretKey::generate().unwrap());
    let store = bare.with_secret_key(old.clone());
    let ws = store.create_workspace("acme").await.unwrap();
    for (name, value) in [("a", "value-a"), ("b", "value-b"), ("c", "value-c")] {
        assert!(store.put_secret(ws, None, name, value).await.unwrap());
    }
    // The last one altered (a's sealed value copied into it): the rotation reaches it last.
    common::raw_execute(
        &url,
        "UPDATE secrets SET nonce = (SELECT nonce FROM secrets WHERE name = 'a'), \
         ciphertext = (SELECT ciphertext FROM secrets WHERE name = 'a') WHERE name = 'c'",
    )
    .await;
    let before = rows(&url).await;
    let error = store.rotate_secrets(&new).await.unwrap_err();
    assert!(matches!(error, Error::SecretAltered { ref name, .. } if name == "c"), "{error:?}");
    // Nothing moved: every row as it was, the old key still reads what it could.
    assert_eq!(rows(&url).await, before);
    assert_eq!(store.secret_key_ids().await.unwrap(), [old.id()]);
    assert_eq!(store.secret(ws, None, "a").await.unwrap().as_deref(), Some("value-a"));
    assert_eq!(store.secret(ws, None, "b").await.unwrap().as_deref(), Some("value-b"));
    assert!(matches!(bare.with_secret_key(new).secret(ws, None, "a").await, Err(Error::WrongSecretKey { .. })));
}

async fn writes_racing_a_rotation_never_mix_keys(bare: Store, _url: String) {
    let (old, new) = (SecretKey::generate().unwrap(), SecretKey::generate().unwrap());
    let store = bare.with_secret_key(old.clone());
    let ws = store.create_workspace("acme").await.unwrap();
    for i in 0..20 {
        assert!(store.put_secret(ws, None, &format!("before-{i}"), "v").await.unwrap());
    }
    let writers: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { (i, store.put_secret(ws, None, &format!("racing-{i}"), "r").await) })
        })
        .collect();
    let rotation = {
        let (store, new) = (store.clone(), new.clone());
        tokio::spawn(async move { store.rotate_secrets(&new).await })
    };
    let rotated = rotation.await.unwrap().unwrap();
    assert!(rotated >= 20, "{rotated}");
    let reader = bare.with_secret_key(new.clone());
    for writer in writers {
        let (i, written) = writer.await.unwrap();
        let name = format!("racing-{i}");
        match written {
            // Written before the rotation: rotated with the others.
            Ok(true) => assert_eq!(reader.secret(ws, None, &name).await.unwrap().as_deref(), Some("r")),
            // After it, under the old key: refused, not stored.
            Err(Error::WrongSecretKey { .. }) => assert_eq!(reader.secret(ws, None, &name).await.unwrap(), None),
            other => panic!("{name}: {other:?}"),
        }
    }
    assert_eq!(store.secret_key_ids().await.unwrap(), [new.id()]);
}

async fn exports_leave_secrets_out_unless_asked_and_imports_seal_them_again(bare: Store, url: String) {
    let key = SecretKey::generate().unwrap();
    let store = bare.with_secret_key(key.clone());
    let ws = store.create_workspace("acme").await.unwrap();
    let shop = store.create_bot(ws, "shop", Some(5005)).await.unwrap().unwrap();
    store.save_version(ws, shop, "ferrogram: 1\nbot: {name: shop}\non: []\n").await.unwrap();
    assert!(store.put_secret(ws, Some(shop), "token", TOKEN).await.unwrap());

    let plain = store.export_bot("shop").await.unwrap();
    assert!(plain.get("secrets").is_none(), "{plain}");
    assert!(!plain.to_string().contains("SECRET-shop"), "{plain}");
    assert!(matches!(bare.export_bot_with_secrets("shop").await, Err(Error::NoSecretKey)));
    let wrong = bare.with_secret_key(SecretKey::generate().unwrap());
    assert!(matches!(wrong.export_bot_with_secrets("shop").await, Err(Error::WrongSecretKey { .. })));
    let full = store.export_bot_with_secrets("shop").await.unwrap();
    assert_eq!(full["secrets"], serde_json::json!([{"name": "token", "value": TOKEN}]));

    let replace = ImportOptions { replace: true, workspace: None };
    // Replaced from an export without secrets: the record's token is kept (sealed for the new
    // record), which needs the key; without it nothing changes.
    let refused = bare.import_bot(&plain, replace).await.unwrap_err();
    assert!(matches!(refused, Error::NoSecretKey), "{refused:?}");
    assert_eq!(store.secret(ws, Some(shop), "token").await.unwrap().as_deref(), Some(TOKEN));
    let summary = store.import_bot(&plain, replace).await.unwrap();
    assert_eq!(summary.secrets, 1);
    let record = store.bot_named(ws, "shop").await.unwrap().unwrap();
    assert_ne!(record.id, shop);
    assert_eq!(store.secret(ws, Some(record.id), "token").await.unwrap().as_deref(), Some(TOKEN));

    // An export's own secrets replace them, sealed under this database's key.
    let mut changed = full.clone();
    changed["secrets"][0]["value"] = Value::from("5005:rotated-at-botfather");
    assert!(matches!(bare.import_bot(&changed, replace).await, Err(Error::NoSecretKey)));
    assert_eq!(store.import_bot(&changed, replace).await.unwrap().secrets, 1);
    let record = store.bot_named(ws, "shop").await.unwrap().unwrap();
    assert_eq!(store.secret(ws, Some(record.id), "token").await.unwrap().as_deref(), Some("5005:rotated-at-botfather"));
    assert!(rows(&url).await.iter().all(|row| row.1 == key.id()));

    // A malformed list of secrets is refused before anything is written.
    for bad in [
        serde_json::json!("token"),
        serde_json::json!([{"name": "token"}]),
        serde_json::json!([{"name": "bad name", "value": "v"}]),
        serde_json::json!([{"name": "t", "value": "1"}, {"name": "t", "value": "2"}]),
    ] {
        let mut document = full.clone();
        document["secrets"] = bad.clone();
        assert!(matches!(store.import_bot(&document, replace).await, Err(Error::Refused(_))), "{bad}");
    }
    let record_after = store.bot_named(ws, "shop").await.unwrap().unwrap();
    assert_eq!(record_after.id, record.id, "nothing replaced");
}

async fn secret_values_open_one_owners_secrets(bare: Store, _url: String) {
    let ws = bare.create_workspace("acme").await.unwrap();
    let other = bare.create_workspace("other").await.unwrap();
    let shop = bare.create_bot(ws, "shop", None).await.unwrap().unwrap();
    let news = bare.create_bot(ws, "news", None).await.unwrap().unwrap();
    // Nothing stored: no key needed.
    assert!(bare.secret_values(ws, None).await.unwrap().is_empty());
    let store = bare.with_secret_key(SecretKey::generate().unwrap());
    assert!(store.put_secret(ws, None, "SHOP_KEY", "ws-value").await.unwrap());
    assert!(store.put_secret(ws, None, "A_KEY", "a").await.unwrap());
    assert!(store.put_secret(ws, Some(shop), "SHOP_KEY", "bot-value").await.unwrap());
    assert!(store.put_secret(ws, Some(news), "NEWS_KEY", "n").await.unwrap());
    assert!(store.put_secret(other, None, "SHOP_KEY", "other-ws").await.unwrap());
    let opened = |values: Vec<(String, zeroize::Zeroizing<String>)>| {
        values.into_iter().map(|(name, value)| (name, value.to_string())).collect::<Vec<_>>()
    };
    let pair = |name: &str, value: &str| (name.to_owned(), value.to_owned());
    assert_eq!(
        opened(store.secret_values(ws, None).await.unwrap()),
        [pair("A_KEY", "a"), pair("SHOP_KEY", "ws-value")],
        "the workspace's own, not its bots' nor another workspace's"
    );
    assert_eq!(opened(store.secret_values(ws, Some(shop)).await.unwrap()), [pair("SHOP_KEY", "bot-value")]);
    assert_eq!(opened(store.secret_values(other, None).await.unwrap()), [pair("SHOP_KEY", "other-ws")]);
    // A bot of another workspace: nothing, never its secrets.
    assert!(store.secret_values(other, Some(shop)).await.unwrap().is_empty());
    // Stored ones without the key: refused, not empty.
    assert!(matches!(bare.secret_values(ws, Some(shop)).await, Err(Error::NoSecretKey)));
    assert!(matches!(
        bare.with_secret_key(SecretKey::generate().unwrap()).secret_values(ws, None).await,
        Err(Error::WrongSecretKey { .. } | Error::SecretAltered { .. })
    ));
}

/// `--with-secrets` brings the workspace's secrets too (`workspace_secrets`), and every export
/// the bot's `enabled` flag and last status; an import restores them, writing the workspace's
/// secrets it lacks (all of them with `replace`).
async fn exports_carry_the_workspace_secrets_and_the_bot_lifecycle(bare: Store, _url: String) {
    let store = bare.with_secret_key(SecretKey::generate().unwrap());
    let ws = store.create_workspace("acme").await.unwrap();
    let shop = store.create_bot(ws, "shop", Some(5005)).await.unwrap().unwrap();
    store.save_version(ws, shop, "ferrogram: 1\nbot: {name: shop}\non: []\n").await.unwrap();
    assert!(store.put_secret(ws, None, "SHOP_KEY", "SECRET-workspace-key").await.unwrap());
    assert!(store.set_bot_enabled(ws, shop, false).await.unwrap());
    let status = StoredStatus {
        status: "unauthorized".into(),
        since: 1_700_000_000,
        version: Some(1),
        attempts: 3,
        errors: vec![(1_700_000_000, "getMe: 401 Unauthorized".into())],
    };
    assert!(store.save_bot_status(ws, shop, &status).await.unwrap());

    let plain = store.export_bot("shop").await.unwrap();
    assert!(plain.get("workspace_secrets").is_none() && !plain.to_string().contains("SECRET-workspace"), "{plain}");
    assert_eq!(plain["bot"]["record"]["enabled"], false, "{plain}");
    assert_eq!(plain["bot"]["record"]["status"]["status"], "unauthorized", "{plain}");
    let full = store.export_bot_with_secrets("shop").await.unwrap();
    assert_eq!(full["workspace_secrets"], serde_json::json!([{"name": "SHOP_KEY", "value": "SECRET-workspace-key"}]));

    // Restored after the bot and the workspace's secret are gone: the secret sealed again, the
    // bot disabled with its status.
    store.remove_bot(ws, shop, false).await.unwrap().unwrap();
    assert!(store.delete_secret(ws, None, "SHOP_KEY").await.unwrap());
    let summary = store.import_bot(&full, ImportOptions::default()).await.unwrap();
    assert_eq!(summary.workspace_secrets, 1);
    assert_eq!(store.secret(ws, None, "SHOP_KEY").await.unwrap().as_deref(), Some("SECRET-workspace-key"));
    let record = store.bot_named(ws, "shop").await.unwrap().unwrap();
    assert!(!record.enabled, "the bot stays disabled");
    assert_eq!(store.bot_status(ws, record.id).await.unwrap(), Some(status));

    // With `replace`, a workspace secret it has is the export's.
    assert!(store.put_secret(ws, None, "SHOP_KEY", "SECRET-changed-here").await.unwrap());
    let replace = ImportOptions { replace: true, workspace: None };
    assert_eq!(store.import_bot(&full, replace).await.unwrap().workspace_secrets, 1);
    assert_eq!(store.secret(ws, None, "SHOP_KEY").await.unwrap().as_deref(), Some("SECRET-workspace-key"));
    // An older export (no `enabled`) imports the bot enabled; a malformed status is refused.
    let mut older = plain.clone();
    older["bot"]["record"].as_object_mut().unwrap().remove("enabled");
    older["bot"]["record"]["status"] = Value::Null;
    store.import_bot(&older, replace).await.unwrap();
    assert!(store.bot_named(ws, "shop").await.unwrap().unwrap().enabled);
    let mut bad = plain.clone();
    bad["bot"]["record"]["status"] = serde_json::json!({"status": "running"});
    assert!(matches!(store.import_bot(&bad, replace).await, Err(Error::Refused(_))));
}
