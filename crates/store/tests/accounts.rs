//! Accounts, memberships, sessions and one-time links (decision 0042), on SQLite and
//! PostgreSQL: each case runs on a fresh database of each backend (PostgreSQL skipped loudly
//! when unreachable, unless `FERROGRAM_REQUIRE_POSTGRES=1`; see `tests/common`).

mod common;

use ferrogram_store::{LinkKind, Role, SESSION_MAX_AGE, Store, csrf_token, hash_password};

crate::both!(
    passwords_verify_and_unknown_emails_do_not,
    emails_are_unique_without_regard_to_case,
    passwords_are_stored_as_argon2id_only,
    disabled_accounts_cannot_sign_in_and_lose_their_sessions,
    memberships_carry_roles_and_keep_an_owner,
    sessions_verify_slide_and_expire,
    sign_out_everywhere_ends_the_other_sessions,
    sessions_are_stored_as_hashes_only,
    links_are_single_use_and_expire,
    a_link_used_in_a_rolled_back_transaction_stays_unused,
);

const PASSWORD: &str = "correct horse battery";

async fn raw(url: &str, sql: &str) -> Vec<String> {
    use sqlx::Connection;
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        let rows: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        rows
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        let rows: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        rows
    }
}

async fn ann(store: &Store) -> i64 {
    let hash = hash_password(PASSWORD).await.unwrap();
    store.create_account("Ann@Example.org", "Ann", &hash).await.unwrap().unwrap().id
}

async fn passwords_verify_and_unknown_emails_do_not(store: Store, _url: String) {
    assert_eq!(store.account_count().await.unwrap(), 0);
    let id = ann(&store).await;
    assert_eq!(store.account_count().await.unwrap(), 1);
    let found = store.verify_password("ann@example.ORG", PASSWORD).await.unwrap().unwrap();
    assert_eq!((found.id, found.email.as_str(), found.display_name.as_str()), (id, "Ann@Example.org", "Ann"));
    assert_eq!(store.verify_password("ann@example.org", "correct horse battery!").await.unwrap(), None);
    assert_eq!(store.verify_password("ann@example.org", "").await.unwrap(), None);
    assert_eq!(store.verify_password("bob@example.org", PASSWORD).await.unwrap(), None);
    // A new password replaces the old one.
    assert!(store.set_password(id, &hash_password("another long password").await.unwrap()).await.unwrap());
    assert_eq!(store.verify_password("ann@example.org", PASSWORD).await.unwrap(), None);
    assert!(store.verify_password("ann@example.org", "another long password").await.unwrap().is_some());
    // Too short a password is refused before anything is stored.
    let error = hash_password("short").await.unwrap_err().to_string();
    assert!(error.contains("12 characters"), "{error}");
}

async fn emails_are_unique_without_regard_to_case(store: Store, _url: String) {
    ann(&store).await;
    let hash = hash_password(PASSWORD).await.unwrap();
    assert_eq!(store.create_account("ANN@example.org", "Other Ann", &hash).await.unwrap(), None);
    assert!(store.create_account("not an email", "X", &hash).await.is_err());
    assert!(store.create_account("x@y.z", "  ", &hash).await.is_err());
    assert_eq!(store.accounts().await.unwrap().len(), 1);
    assert_eq!(store.account_by_email("ann@EXAMPLE.org").await.unwrap().unwrap().display_name, "Ann");
}

async fn passwords_are_stored_as_argon2id_only(store: Store, url: String) {
    ann(&store).await;
    let stored = raw(&url, "SELECT password_hash FROM accounts").await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", stored[0]);
    assert!(!stored[0].contains(PASSWORD));
    // Two hashes of one password differ (their salts do).
    let (a, b) = (hash_password(PASSWORD).await.unwrap(), hash_password(PASSWORD).await.unwrap());
    assert_ne!(a.as_str(), b.as_str());
}

async fn disabled_accounts_cannot_sign_in_and_lose_their_sessions(store: Store, _url: String) {
    let id = ann(&store).await;
    let session = store.create_session(id, "test", 3600).await.unwrap().unwrap();
    assert!(store.set_account_disabled(id, true).await.unwrap());
    assert_eq!(store.verify_password("ann@example.org", PASSWORD).await.unwrap(), None);
    assert_eq!(store.session(&session.secret, 3600).await.unwrap(), None);
    assert_eq!(store.create_session(id, "test", 3600).await.unwrap(), None);
    assert!(store.set_account_disabled(id, false).await.unwrap());
    assert!(store.verify_password("ann@example.org", PASSWORD).await.unwrap().is_some());
    assert_eq!(store.session(&session.secret, 3600).await.unwrap(), None, "its sessions ended for good");
    assert!(!store.set_account_disabled(id + 1000, true).await.unwrap());
}

async fn memberships_carry_roles_and_keep_an_owner(store: Store, _url: String) {
    let (acme, other) = (store.create_workspace("Acme").await.unwrap(), store.create_workspace("Other").await.unwrap());
    let ann = ann(&store).await;
    let bob = store.create_account("bob@example.org", "Bob", &hash_password(PASSWORD).await.unwrap()).await.unwrap();
    let bob = bob.unwrap().id;
    assert!(store.set_member(acme, ann, Role::Owner).await.unwrap());
    assert!(store.set_member(acme, bob, Role::Viewer).await.unwrap());
    assert!(store.set_member(other, bob, Role::Editor).await.unwrap());
    assert!(!store.set_member(acme + 1000, bob, Role::Viewer).await.unwrap(), "no such workspace");
    assert!(!store.set_member(acme, bob + 1000, Role::Viewer).await.unwrap(), "no such account");
    let bobs = store.memberships(bob).await.unwrap();
    assert_eq!(
        bobs.iter().map(|m| (m.workspace_name.as_str(), m.role)).collect::<Vec<_>>(),
        [("Acme", Role::Viewer), ("Other", Role::Editor)]
    );
    // A role changes in place.
    assert!(store.set_member(acme, bob, Role::Admin).await.unwrap());
    let members = store.members(acme).await.unwrap();
    assert_eq!(
        members.iter().map(|m| (m.account, m.role)).collect::<Vec<_>>(),
        [(ann, Role::Owner), (bob, Role::Admin)]
    );
    // The last owner can be neither demoted nor removed; with a second owner, both can.
    assert!(store.set_member(acme, ann, Role::Admin).await.is_err());
    assert!(store.remove_member(acme, ann).await.is_err());
    assert_eq!(store.memberships(ann).await.unwrap()[0].role, Role::Owner);
    assert!(store.set_member(acme, bob, Role::Owner).await.unwrap());
    assert!(store.set_member(acme, ann, Role::Editor).await.unwrap());
    assert!(store.remove_member(acme, ann).await.unwrap());
    assert!(!store.remove_member(acme, ann).await.unwrap(), "no longer a member");
    assert!(store.memberships(ann).await.unwrap().is_empty());
    assert!(store.remove_member(other, bob).await.unwrap());
}

async fn sessions_verify_slide_and_expire(store: Store, url: String) {
    let id = ann(&store).await;
    let issued = store.create_session(id, "Firefox\n on Linux", 3600).await.unwrap().unwrap();
    assert_eq!(issued.secret.len(), 43);
    assert_eq!(issued.csrf, csrf_token(&issued.secret));
    let access = store.session(&issued.secret, 3600).await.unwrap().unwrap();
    assert_eq!((access.session, access.account.id), (issued.id, id));
    assert_eq!(access.csrf, issued.csrf);
    assert_eq!(store.session("not a session", 3600).await.unwrap(), None);
    let listed = store.sessions(id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].user_agent, "Firefox on Linux", "control characters dropped");
    // Sliding: a use more than a minute after the last recorded one moves the expiry.
    raw(&url, &format!("UPDATE sessions SET last_seen_at = last_seen_at - 120 WHERE id = {} RETURNING 'x'", issued.id))
        .await;
    let before = store.sessions(id).await.unwrap()[0].expires_at;
    let after = store.session(&issued.secret, 7200).await.unwrap().unwrap().expires_at;
    assert!(after >= before + 3000, "{before} → {after}");
    // …but never past the maximum age from its creation.
    raw(
        &url,
        &format!(
            "UPDATE sessions SET created_at = created_at - {}, last_seen_at = last_seen_at - 120 WHERE id = {} RETURNING 'x'",
            SESSION_MAX_AGE - 100,
            issued.id
        ),
    )
    .await;
    let capped = store.session(&issued.secret, 7200).await.unwrap().unwrap().expires_at;
    let created = raw(&url, &format!("SELECT CAST(created_at AS TEXT) FROM sessions WHERE id = {}", issued.id)).await;
    assert_eq!(capped, created[0].parse::<i64>().unwrap() + SESSION_MAX_AGE);
    // An expired session is refused and forgotten.
    let short = store.create_session(id, "test", 0).await.unwrap().unwrap();
    assert_eq!(store.session(&short.secret, 3600).await.unwrap(), None);
    assert!(store.sessions(id).await.unwrap().iter().all(|s| s.id != short.id));
}

async fn sign_out_everywhere_ends_the_other_sessions(store: Store, _url: String) {
    let id = ann(&store).await;
    let bob = store.create_account("bob@example.org", "Bob", &hash_password(PASSWORD).await.unwrap()).await.unwrap();
    let bob = bob.unwrap().id;
    let here = store.create_session(id, "here", 3600).await.unwrap().unwrap();
    let phone = store.create_session(id, "phone", 3600).await.unwrap().unwrap();
    let laptop = store.create_session(id, "laptop", 3600).await.unwrap().unwrap();
    let bobs = store.create_session(bob, "bob", 3600).await.unwrap().unwrap();
    // One, by id, only the account's own.
    assert!(!store.revoke_session(bob, phone.id).await.unwrap());
    assert!(store.revoke_session(id, phone.id).await.unwrap());
    assert_eq!(store.session(&phone.secret, 3600).await.unwrap(), None);
    // All but this one.
    assert_eq!(store.revoke_sessions(id, Some(here.id)).await.unwrap(), 1);
    assert_eq!(store.session(&laptop.secret, 3600).await.unwrap(), None);
    assert!(store.session(&here.secret, 3600).await.unwrap().is_some());
    assert!(store.session(&bobs.secret, 3600).await.unwrap().is_some(), "another account's session stays");
    // All.
    assert_eq!(store.revoke_sessions(id, None).await.unwrap(), 1);
    assert!(store.sessions(id).await.unwrap().is_empty());
    assert_eq!(store.sessions(bob).await.unwrap().len(), 1);
}

async fn sessions_are_stored_as_hashes_only(store: Store, url: String) {
    let id = ann(&store).await;
    let issued = store.create_session(id, "test", 3600).await.unwrap().unwrap();
    let stored = raw(&url, "SELECT token_hash FROM sessions").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].len(), 64);
    assert!(!stored[0].contains(&issued.secret) && stored[0] != issued.csrf);
}

async fn links_are_single_use_and_expire(store: Store, url: String) {
    let acme = store.create_workspace("Acme").await.unwrap();
    let setup = store.create_link(LinkKind::Setup, 3600).await.unwrap().unwrap();
    assert_eq!(store.link(&setup.secret).await.unwrap().unwrap().kind, LinkKind::Setup);
    assert_eq!(store.link(&setup.secret).await.unwrap().unwrap().id, setup.id, "reading does not use it");
    assert_eq!(store.use_link(&setup.secret).await.unwrap().unwrap().id, setup.id);
    assert_eq!(store.use_link(&setup.secret).await.unwrap(), None, "used once");
    assert_eq!(store.link(&setup.secret).await.unwrap(), None);
    let invite = store.create_link(LinkKind::Invite { workspace: acme, role: Role::Editor }, 3600).await.unwrap();
    let invite = invite.unwrap();
    assert_eq!(
        store.use_link(&invite.secret).await.unwrap().unwrap().kind,
        LinkKind::Invite { workspace: acme, role: Role::Editor }
    );
    assert_eq!(
        store.create_link(LinkKind::Invite { workspace: acme + 1000, role: Role::Viewer }, 60).await.unwrap(),
        None
    );
    let expired = store.create_link(LinkKind::Setup, 0).await.unwrap().unwrap();
    assert_eq!(store.link(&expired.secret).await.unwrap(), None);
    assert_eq!(store.use_link(&expired.secret).await.unwrap(), None);
    assert_eq!(store.use_link("made up").await.unwrap(), None);
    let stored = raw(&url, "SELECT token_hash FROM account_links").await;
    assert!(stored.iter().all(|hash| hash.len() == 64 && *hash != setup.secret));
}

async fn a_link_used_in_a_rolled_back_transaction_stays_unused(store: Store, _url: String) {
    let setup = store.create_link(LinkKind::Setup, 3600).await.unwrap().unwrap();
    let mut tx = store.transaction().await.unwrap();
    assert!(tx.use_link(&setup.secret).await.unwrap().is_some());
    tx.rollback().await.unwrap();
    assert!(store.use_link(&setup.secret).await.unwrap().is_some());
}
