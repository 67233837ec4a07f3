//! The bundled shop Web App over real HTTP: a bot run by the engine (polling the sandbox) has its
//! page served at `/webapp/{bot_id}/shop`, self-contained; its products call answers only an
//! `initData` signed for this bot with the key derived from its token, and recent: 401 for a
//! tampered, foreign, unsigned or old one, 404 for a bot not here.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ferrogram_engine::web_app::{INIT_DATA_MAX_AGE, secret_key, sign_init_data};
use ferrogram_engine::{Engine, EngineConfig, Receive};
use ferrogram_server::web_app::shop_path;
use serde_json::{Value, json};

const SHOP: &str = r#"
ferrogram: 1
bot: {name: shop}
variables:
  bot:
    products: {type: list, default: ["green tea", {name: scones, price: "3 €"}]}
on:
  - text: any
    do:
      - reply: "hi"
"#;

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

async fn products(http: &reqwest::Client, base: &str, bot_id: u64, init_data: &str) -> (u16, Value) {
    let response = http
        .post(format!("{base}{}/products", shop_path(bot_id)))
        .body(init_data.to_owned())
        .send()
        .await
        .expect("the listener answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shop_page_is_served_and_its_call_checks_init_data() {
    let sandbox = ferrogram_sandbox::Sandbox::start(ferrogram_sandbox::Config::default()).await.expect("sandbox");
    let engine = Arc::new(Engine::new(EngineConfig::default()));
    let listening = ferrogram_server::listen("127.0.0.1:0".parse().unwrap(), Arc::clone(&engine)).await.unwrap();
    let base = format!("http://{}", listening.addr());
    let http = reqwest::Client::new();
    let bot_id = 4343u64;
    let token = format!("{bot_id}:shop-secret");
    let created = http.post(format!("{}/sandbox/bots", sandbox.url())).json(&json!({"token": token})).send().await;
    assert!(created.expect("the sandbox answers").status().is_success());
    let file = ferrogram_schema::load_str(SHOP, "shop.yaml").expect("valid bot file");
    let handle = engine.add_bot_with(file, &token, &sandbox.url(), Receive::Polling).await.expect("bot starts");

    // The page: HTML, with its script inline and nothing loaded from elsewhere.
    let page = http.get(format!("{base}{}", shop_path(bot_id))).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    let html = page.text().await.unwrap();
    assert!(html.contains("Telegram.WebApp") && html.contains("web_app_data_send"), "the page sends the order back");
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "nothing from a CDN");

    // Signed by Telegram for this bot: the products of the bot file.
    let key = secret_key(&token);
    let user = r#"{"id":1000001,"first_name":"Ann"}"#;
    let auth_date = now().to_string();
    let signed = sign_init_data(&[("query_id", "AAHdF6IQ"), ("user", user), ("auth_date", &auth_date)], &key);
    let (status, body) = products(&http, &base, bot_id, &signed).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["products"], json!([{"name": "green tea"}, {"name": "scones", "price": "3 €"}]));

    // Tampered (another user), signed for another bot, unsigned, empty, or too old: 401.
    let tampered = signed.replace("Ann", "Eve");
    let (status, body) = products(&http, &base, bot_id, &tampered).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("initData's signature does not match")));
    let foreign = sign_init_data(&[("user", user), ("auth_date", &auth_date)], &secret_key("4343:another-token"));
    assert_eq!(products(&http, &base, bot_id, &foreign).await.0, 401);
    assert_eq!(products(&http, &base, bot_id, signed.split("&hash=").next().unwrap()).await.0, 401);
    assert_eq!(products(&http, &base, bot_id, "").await.0, 401);
    let old = (now() - INIT_DATA_MAX_AGE - 60).to_string();
    let stale = sign_init_data(&[("user", user), ("auth_date", &old)], &key);
    let (status, body) = products(&http, &base, bot_id, &stale).await;
    assert_eq!(status, 401);
    assert!(body["error"].as_str().unwrap().contains("too old"), "{body}");

    // A bot not run here, or not a number: 404, page and call alike.
    assert_eq!(http.get(format!("{base}{}", shop_path(999))).send().await.unwrap().status().as_u16(), 404);
    assert_eq!(http.get(format!("{base}/webapp/abc/shop")).send().await.unwrap().status().as_u16(), 404);
    assert_eq!(products(&http, &base, 999, &signed).await.0, 404);

    engine.stop(handle).await.unwrap();
    listening.stop();
}
