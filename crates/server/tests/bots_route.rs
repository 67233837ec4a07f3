//! The bots' control API over real HTTP, on a stand-in [`BotControl`] and an in-memory store:
//! the bearer token verified by the store (401 without one, with a bad or revoked one), the
//! role checked (403 for a viewer acting), 404 for an unknown bot or one of another workspace,
//! 409 for a refused action, the JSON status objects, and each action in the audit log.

use std::sync::Arc;

use ferrogram_engine::{BoxFuture, Engine, EngineConfig};
use ferrogram_server::bots::{Api, BotControl, BotError, BotStatus, ControlError, Status};
use ferrogram_store::{Role, Store};
use serde_json::{Value, json};

/// One bot, `echo`, in workspace `home`; its reload is refused.
struct Stand {
    home: i64,
}

impl Stand {
    fn echo(&self, workspace: i64, name: &str, status: Status) -> Result<BotStatus, ControlError> {
        if workspace != self.home || name != "echo" {
            return Err(ControlError::UnknownBot);
        }
        let errors = vec![BotError { at: 7, message: "once".into() }];
        Ok(BotStatus { name: name.into(), status, since: 5, version: Some(3), errors, attempts: 0, asleep: false })
    }
}

impl BotControl for Stand {
    fn list(&self, workspace: i64) -> BoxFuture<'_, Vec<BotStatus>> {
        Box::pin(async move { self.echo(workspace, "echo", Status::Running).into_iter().collect() })
    }
    fn status<'a>(&'a self, workspace: i64, name: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>> {
        Box::pin(async move { self.echo(workspace, name, Status::Running) })
    }
    fn start<'a>(&'a self, workspace: i64, name: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>> {
        Box::pin(async move { self.echo(workspace, name, Status::Failing) })
    }
    fn stop<'a>(&'a self, workspace: i64, name: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>> {
        Box::pin(async move { self.echo(workspace, name, Status::Stopped) })
    }
    fn reload<'a>(&'a self, workspace: i64, name: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>> {
        Box::pin(async move {
            self.echo(workspace, name, Status::Running)?;
            Err(ControlError::Refused("version 4 not reloaded: no start scene".into()))
        })
    }
    fn remove<'a>(
        &'a self,
        workspace: i64,
        name: &'a str,
        keep_data: bool,
    ) -> BoxFuture<'a, Result<Value, ControlError>> {
        Box::pin(async move {
            self.echo(workspace, name, Status::Stopped)?;
            Ok(json!({"name": name, "versions": 3, "kept_data": keep_data}))
        })
    }
}

async fn call(http: &reqwest::Client, method: reqwest::Method, url: String, token: Option<&str>) -> (u16, Value) {
    let mut request = http.request(method, url);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.expect("answered");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_control_api_checks_tokens_and_roles_and_audits_each_action() {
    let store = Arc::new(Store::open("sqlite::memory:").await.expect("store"));
    let home = store.create_workspace("home").await.unwrap();
    let away = store.create_workspace("away").await.unwrap();
    let editor = store.issue_token(home, "ops", Role::Editor).await.unwrap().unwrap();
    let viewer = store.issue_token(home, "eyes", Role::Viewer).await.unwrap().unwrap();
    let stranger = store.issue_token(away, "other", Role::Admin).await.unwrap().unwrap();
    let revoked = store.issue_token(home, "old", Role::Admin).await.unwrap().unwrap();
    assert!(store.revoke_token(home, revoked.id).await.unwrap());

    let engine = Arc::new(Engine::new(EngineConfig::default()));
    let api = Api { store: Arc::clone(&store), bots: Arc::new(Stand { home }) };
    let listening = ferrogram_server::listen_with("127.0.0.1:0".parse().unwrap(), engine, Some(api)).await.unwrap();
    let base = format!("http://{}", listening.addr());
    let http = reqwest::Client::new();
    let (get, post) = (reqwest::Method::GET, reqwest::Method::POST);

    for token in [None, Some("fg_wrong"), Some(revoked.secret.as_str()), Some("")] {
        let (code, body) = call(&http, get.clone(), format!("{base}/api/v1/bots"), token).await;
        assert_eq!(code, 401, "{token:?}: {body}");
        assert!(body["error"].is_string(), "{body}");
    }
    let (code, body) = call(&http, post.clone(), format!("{base}/api/v1/bots/echo/stop"), Some(&viewer.secret)).await;
    assert_eq!(code, 403, "{body}");
    assert_eq!(body["error"], "the token's role viewer may not do this (it needs editor)");

    let (code, body) = call(&http, get.clone(), format!("{base}/api/v1/bots"), Some(&viewer.secret)).await;
    assert_eq!(code, 200);
    let echo = json!({"name": "echo", "status": "running", "since": 5, "version": 3,
                      "errors": [{"at": 7, "message": "once"}], "attempts": 0, "asleep": false});
    assert_eq!(body, json!({"bots": [echo.clone()]}));
    let (code, body) = call(&http, get.clone(), format!("{base}/api/v1/bots/echo"), Some(&viewer.secret)).await;
    assert_eq!((code, body), (200, echo));
    // Another workspace's token sees no such bot.
    let (code, body) = call(&http, get.clone(), format!("{base}/api/v1/bots/echo"), Some(&stranger.secret)).await;
    assert_eq!((code, body), (404, json!({"error": "no bot named echo"})));
    let (code, _) = call(&http, post.clone(), format!("{base}/api/v1/bots/ghost/start"), Some(&editor.secret)).await;
    assert_eq!(code, 404);
    let (code, _) = call(&http, post.clone(), format!("{base}/api/v1/bots/echo/explode"), Some(&editor.secret)).await;
    assert_eq!(code, 404);

    let (code, body) = call(&http, post.clone(), format!("{base}/api/v1/bots/echo/stop"), Some(&editor.secret)).await;
    assert_eq!((code, &body["status"]), (200, &json!("stopped")));
    let (code, body) = call(&http, post.clone(), format!("{base}/api/v1/bots/echo/start"), Some(&editor.secret)).await;
    assert_eq!((code, &body["status"]), (200, &json!("failing")));
    let (code, body) = call(&http, post.clone(), format!("{base}/api/v1/bots/echo/reload"), Some(&editor.secret)).await;
    assert_eq!((code, body), (409, json!({"error": "version 4 not reloaded: no start scene"})));

    let log = store.audit_log(home, 10).await.unwrap();
    let actor = format!("token:{}", editor.id);
    let seen: Vec<(&str, &str, &str, Value)> =
        log.iter().rev().map(|e| (e.actor.as_str(), e.action.as_str(), e.target.as_str(), e.detail.clone())).collect();
    assert_eq!(
        seen,
        [
            (actor.as_str(), "bot.stop", "echo", json!({"status": "stopped", "version": 3})),
            (actor.as_str(), "bot.start", "echo", json!({"status": "failing", "version": 3})),
            (actor.as_str(), "bot.reload", "echo", json!({"error": "version 4 not reloaded: no start scene"})),
        ]
    );
    assert!(store.audit_log(away, 10).await.unwrap().is_empty());
    listening.stop();
}

#[tokio::test]
async fn a_removal_needs_an_admin_and_is_audited_with_what_it_deleted() {
    let store = Arc::new(Store::open("sqlite::memory:").await.expect("store"));
    let home = store.create_workspace("home").await.unwrap();
    let away = store.create_workspace("away").await.unwrap();
    let admin = store.issue_token(home, "root", Role::Admin).await.unwrap().unwrap();
    let editor = store.issue_token(home, "ops", Role::Editor).await.unwrap().unwrap();
    let stranger = store.issue_token(away, "other", Role::Admin).await.unwrap().unwrap();
    let engine = Arc::new(Engine::new(EngineConfig::default()));
    let api = Api { store: Arc::clone(&store), bots: Arc::new(Stand { home }) };
    let listening = ferrogram_server::listen_with("127.0.0.1:0".parse().unwrap(), engine, Some(api)).await.unwrap();
    let base = format!("http://{}", listening.addr());
    let http = reqwest::Client::new();
    let delete = reqwest::Method::DELETE;

    let (code, body) = call(&http, delete.clone(), format!("{base}/api/v1/bots/echo"), None).await;
    assert_eq!(code, 401, "{body}");
    let (code, body) = call(&http, delete.clone(), format!("{base}/api/v1/bots/echo"), Some(&editor.secret)).await;
    assert_eq!(code, 403, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("admin")), "{body}");
    let (code, body) = call(&http, delete.clone(), format!("{base}/api/v1/bots/echo"), Some(&stranger.secret)).await;
    assert_eq!((code, body), (404, json!({"error": "no bot named echo"})));
    let url = format!("{base}/api/v1/bots/echo?keep_data=yes");
    let (code, body) = call(&http, delete.clone(), url, Some(&admin.secret)).await;
    assert_eq!(code, 400, "{body}");
    assert!(store.audit_log(home, 10).await.unwrap().is_empty(), "nothing refused is audited");

    let url = format!("{base}/api/v1/bots/echo?keep_data=true");
    let (code, body) = call(&http, delete.clone(), url, Some(&admin.secret)).await;
    assert_eq!((code, &body), (200, &json!({"name": "echo", "versions": 3, "kept_data": true})));
    let (code, body) = call(&http, delete, format!("{base}/api/v1/bots/echo"), Some(&admin.secret)).await;
    assert_eq!((code, body["kept_data"].clone()), (200, json!(false)));
    let log = store.audit_log(home, 10).await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!((log[1].action.as_str(), log[1].target.as_str()), ("bot.remove", "echo"));
    assert_eq!(log[1].actor, format!("token:{}", admin.id));
    assert_eq!(log[1].detail["kept_data"], true);
    assert!(store.audit_log(away, 10).await.unwrap().is_empty());
}
