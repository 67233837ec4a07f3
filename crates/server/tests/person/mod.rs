//! A person of the dashboard's tests: an account (password "a long enough password", named by
//! the email's local part) with its memberships, signed in with a session stored in the store.

use ferrogram_store::{Role, Store, hash_password};

/// The account's session cookie (`fg_session=…`) and its CSRF token, and the account's id.
pub async fn person(store: &Store, email: &str, memberships: &[(i64, Role)]) -> ((String, String), i64) {
    let hash = hash_password("a long enough password").await.unwrap();
    let name = email.split('@').next().unwrap();
    let account = store.create_account(email, name, &hash).await.unwrap().unwrap();
    for (workspace, role) in memberships {
        store.set_member(*workspace, account.id, *role).await.unwrap();
    }
    let session = store.create_session(account.id, "test", 3600).await.unwrap().unwrap();
    ((format!("fg_session={}", session.secret), session.csrf), account.id)
}
