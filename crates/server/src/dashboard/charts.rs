//! `/w/{workspace}/bots/{name}/charts` and `/w/{workspace}/overview`: a bot's, or the whole
//! workspace's, daily statistics over a range of UTC days (`?from=&to=`, the last 30 by
//! default), read by the REST API's own functions (`api::stats::{of_bot, of_workspace}`; any
//! role) and drawn by the server ([`super::chart`]): updates per day (and those of blocked
//! users), active users per day with the daily, weekly and monthly counts, the reply latency's
//! p50 and p95, and errors per day. Each chart has its title and a description with its numbers;
//! the numbers are also in a table below, day by day. A range the API refuses is said next to
//! the range's fields (400).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Dashboard;
use super::bot_nav::{bot_context, segment};
use super::chart::{self, Series};
use super::layout::{Lang, text};
use super::workspace::{InWorkspace, refusal};
use crate::api;
use crate::api::problem::Problem;
use crate::api::stats::{StatsRange, StatsView};

/// The range asked for.
#[derive(Deserialize)]
pub struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
}

/// `GET /w/{workspace}/bots/{name}/charts?from=&to=` (any role).
pub async fn bot(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Path((_, name)): Path<(i64, String)>,
    Query(query): Query<RangeQuery>,
) -> Response {
    let path = format!("{}/bots/{}/charts", at.base(), segment(&name));
    let range = asked(&query);
    let stats = api::stats::of_bot(&at.api, &at.caller, &name, &range).await;
    let mut context = bot_context(&at, &name, "charts");
    context["heading"] = json!(text(at.signed.prefs.lang, "charts_of").replace("{bot}", &name));
    page(&dashboard, &at, &path, context, &query, stats)
}

/// `GET /w/{workspace}/overview?from=&to=` (any role): every bot of the workspace added up.
pub async fn overview(
    State(dashboard): State<Dashboard>,
    at: InWorkspace,
    Query(query): Query<RangeQuery>,
) -> Response {
    let path = format!("{}/overview", at.base());
    let range = asked(&query);
    let stats = api::stats::of_workspace(&at.api, &at.caller, &range).await;
    let mut context = at.context();
    context["heading"] = json!(text(at.signed.prefs.lang, "overview_of").replace("{workspace}", &at.workspace_name));
    page(&dashboard, &at, &path, context, &query, stats)
}

fn asked(query: &RangeQuery) -> StatsRange {
    let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    StatsRange { from: given(&query.from), to: given(&query.to) }
}

fn page(
    dashboard: &Dashboard,
    at: &InWorkspace,
    path: &str,
    mut context: Value,
    query: &RangeQuery,
    stats: Result<StatsView, Problem>,
) -> Response {
    let lang = at.signed.prefs.lang;
    context["path"] = json!(path);
    context["range"] = json!({ "from": query.from, "to": query.to });
    context["presets"] = json!([7, 30, 90].map(|days| json!({
        "label": text(lang, "last_days").replace("{days}", &days.to_string()),
        "href": format!("{path}?from={}", days_before_today(days - 1)),
    })));
    let status = match stats {
        Ok(stats) => {
            context["stats"] = drawn(lang, &stats);
            StatusCode::OK
        }
        Err(problem) if problem.status == 400 => {
            let field = |name: &str| {
                problem.errors.iter().find(|e| e.parameter.as_deref() == Some(name)).map(|e| e.detail.clone())
            };
            context["errors"] = json!({ "from": field("from"), "to": field("to"), "detail": problem.detail });
            StatusCode::BAD_REQUEST
        }
        Err(problem) => return refusal(dashboard, &at.signed, path, &problem),
    };
    dashboard.pages.render(status, "charts.html", &at.signed.frame(path), context)
}

/// `YYYY-MM-DD` of `days` days before today (UTC).
fn days_before_today(days: i64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let (y, m, d) = ferrogram_schema::civil_from_days(now.div_euclid(86_400) - days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The charts and the table's rows of `stats`, in `lang`.
fn drawn(lang: Lang, stats: &StatsView) -> Value {
    let t = |key| text(lang, key);
    let days: Vec<String> = stats.days.iter().map(|d| d.day.clone()).collect();
    let count = |f: fn(&api::stats::DayView) -> u64| stats.days.iter().map(|d| Some(f(d) as f64)).collect::<Vec<_>>();
    let ms = |n: Option<u64>| n.map_or_else(|| "—".to_owned(), |n| t("ms").replace("{n}", &n.to_string()));
    let totals = &stats.totals;
    let fill = |key: &'static str, pairs: &[(&str, String)]| {
        pairs.iter().fold(t(key).to_owned(), |text, (name, value)| text.replace(&format!("{{{name}}}"), value))
    };
    let range = [("from", stats.from.clone()), ("to", stats.to.clone())];
    let updates = chart::svg(
        "chart-updates",
        t("chart_updates"),
        &fill(
            "chart_updates_desc",
            &[&range[..], &[("updates", totals.updates.to_string()), ("blocked", totals.blocked.to_string())]].concat(),
        ),
        &days,
        &[
            Series { name: t("series_updates"), values: count(|d| d.updates) },
            Series { name: t("series_blocked"), values: count(|d| d.blocked) },
        ],
        "",
    );
    let active = chart::svg(
        "chart-active",
        t("chart_active"),
        &fill(
            "chart_active_desc",
            &[
                ("to", stats.to.clone()),
                ("dau", totals.daily_active_users.to_string()),
                ("wau", totals.weekly_active_users.to_string()),
                ("mau", totals.monthly_active_users.to_string()),
            ],
        ),
        &days,
        &[Series { name: t("series_active"), values: count(|d| d.active_users) }],
        "",
    );
    let latency = chart::svg(
        "chart-latency",
        t("chart_latency"),
        &fill("chart_latency_desc", &[("p50", ms(totals.latency_p50_ms)), ("p95", ms(totals.latency_p95_ms))]),
        &days,
        &[
            Series {
                name: t("series_p50"),
                values: stats.days.iter().map(|d| d.latency_p50_ms.map(|n| n as f64)).collect(),
            },
            Series {
                name: t("series_p95"),
                values: stats.days.iter().map(|d| d.latency_p95_ms.map(|n| n as f64)).collect(),
            },
        ],
        &t("ms").replace("{n}", ""),
    );
    let errors = chart::svg(
        "chart-errors",
        t("chart_errors"),
        &fill("chart_errors_desc", &[&range[..], &[("errors", totals.errors.to_string())]].concat()),
        &days,
        &[Series { name: t("series_errors"), values: count(|d| d.errors) }],
        "",
    );
    let rows: Vec<Value> = stats
        .days
        .iter()
        .map(|d| {
            json!({ "day": d.day, "updates": d.updates, "blocked": d.blocked, "errors": d.errors,
                    "active": d.active_users, "p50": ms(d.latency_p50_ms), "p95": ms(d.latency_p95_ms) })
        })
        .collect();
    json!({
        "from": stats.from, "to": stats.to,
        "totals": { "updates": totals.updates, "errors": totals.errors, "dau": totals.daily_active_users,
                    "wau": totals.weekly_active_users, "mau": totals.monthly_active_users,
                    "p50": ms(totals.latency_p50_ms), "p95": ms(totals.latency_p95_ms) },
        "charts": [updates, active, latency, errors],
        "rows": rows,
    })
}
