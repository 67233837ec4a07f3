//! The API's OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` attributes
//! and the request and response types (decision 0041), served at `/api/openapi.json`, and an
//! interactive page over it at `/api/docs` (RapiDoc, vendored in `assets/rapidoc/` and embedded
//! in the binary: no CDN). Both are public: the document describes, it does not act.
//!
//! [`finish`] adds what every operation shares rather than repeating it on each: the bearer
//! security requirement and the problem responses (400, 401, 403, 404, 413, 422, 500, and 415
//! on those that take a body), which is also how the tests know every operation must answer 401
//! without credentials. A handler declares its own further refusals (409, 412, 428) by status
//! and description only; `finish` gives every 4xx or 5xx without a body the problem body.

use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

use super::problem::{FieldError, PROBLEM_JSON, Problem};

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/openapi.json";
/// Where its interactive page is served.
pub const DOCS_PATH: &str = "/api/docs";
const SCRIPT_PATH: &str = "/api/docs/rapidoc-min.js";

const RAPIDOC: &str = include_str!("../../assets/rapidoc/rapidoc-min.js");

/// The document's fixed part: what is not generated from a handler.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Ferrogram API",
        version = "1",
        description = "Ferrogram's REST API: everything the dashboard does. Authenticate with \
            `Authorization: Bearer fg_…` (an API token: `ferrogram token create`). Errors are \
            `application/problem+json` (RFC 9457). See docs/api.md."
    ),
    components(schemas(Problem, FieldError)),
    tags(
        (name = "workspace", description = "The caller's workspace"),
        (name = "tokens", description = "API tokens (admin)"),
        (name = "bots", description = "Bots and their files"),
        (name = "versions", description = "A bot's versions: publish, diff, roll back"),
        (name = "drafts", description = "A bot's draft: the editor's file, validated, tried in the sandbox, published"),
        (name = "control", description = "A bot's running state: start, stop, restart, reload"),
        (name = "audit", description = "The workspace's audit log"),
        (name = "stats", description = "Daily statistics of a bot or the workspace"),
        (name = "broadcasts", description = "A bot's broadcasts: a message to its users, with progress"),
        (name = "webhooks", description = "Outgoing event webhooks: subscriptions, deliveries, redelivery"),
        (name = "secrets", description = "Stored secrets bot files read as ${NAME} (admin; values write-only)"),
    )
)]
pub(super) struct Base;

/// The problem responses every operation may give, by status.
const PROBLEMS: &[(&str, &str)] = &[
    ("400", "Malformed request: not JSON, a bad query parameter or header"),
    ("401", "No credentials, or unknown or revoked ones"),
    ("403", "The caller's role may not do this"),
    ("404", "No such thing in the caller's workspace"),
    ("413", "The body is over the limit"),
    ("422", "The body's content is not acceptable: `errors` says which field"),
    ("500", "The server failed"),
];

/// Adds the bearer scheme and, to every operation, its requirement and the problem responses.
pub(super) fn finish(mut doc: OpenApi) -> OpenApi {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    let problem = |description: &str| {
        let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
        ResponseBuilder::new().description(description).content(PROBLEM_JSON, content).build()
    };
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            add_problems(operation, &problem);
        }
    }
    doc
}

/// The problem of an operation that takes a body, sent without `Content-Type: application/json`.
const UNSUPPORTED: (&str, &str) = ("415", "The body is not `application/json`");

fn add_problems(operation: &mut Operation, problem: &dyn Fn(&str) -> utoipa::openapi::Response) {
    operation.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
    let body = operation.request_body.is_some().then_some(&UNSUPPORTED);
    for (status, description) in PROBLEMS.iter().chain(body) {
        operation.responses.responses.entry((*status).to_owned()).or_insert_with(|| problem(description).into());
    }
    // A refusal the handler declared by its status and description alone: a problem too.
    for (status, response) in operation.responses.responses.iter_mut() {
        if let RefOr::T(declared) = response
            && (status.starts_with('4') || status.starts_with('5'))
            && declared.content.is_empty()
        {
            *declared = problem(&declared.description);
        }
    }
}

/// `/api/openapi.json`, `/api/docs` and its script: public routes outside `/api/v1`.
pub(super) fn routes(doc: &OpenApi) -> axum::Router {
    let json = doc.to_pretty_json().unwrap_or_default();
    axum::Router::new()
        .route(DOCUMENT_PATH, routing::get(move || async move { ([(header::CONTENT_TYPE, "application/json")], json) }))
        .route(DOCS_PATH, routing::get(docs_page))
        .route(SCRIPT_PATH, routing::get(script))
}

async fn docs_page() -> Html<&'static str> {
    Html(concat!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Ferrogram API</title>",
        "<script type=\"module\" src=\"/api/docs/rapidoc-min.js\"></script></head>",
        "<body><rapi-doc spec-url=\"/api/openapi.json\" render-style=\"read\" show-header=\"false\" ",
        "allow-authentication=\"true\" schema-style=\"table\"></rapi-doc></body></html>\n"
    ))
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=86400")],
        RAPIDOC,
    )
}
