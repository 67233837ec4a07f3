//! `/api/v1/bots/{name}/stats` and `/api/v1/stats`: a bot's, or the whole workspace's, daily
//! statistics (decision 0047) over a range of UTC days — updates, blocked users' updates,
//! errors, active users (daily, weekly, monthly) and the reply latency's p50 and p95 — from
//! the rollup the group commit keeps (`ferrogram_store::Stats`). Any role reads.

use axum::Json;
use axum::extract::{Path, State};
use ferrogram_schema::{civil_from_days, days_from_civil};
use ferrogram_store::{DAY, DayCounts, Role, Stats};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::body::Params;
use super::bots::{data_id, find};
use super::problem::{FieldError, Problem, store_failed};
use crate::bots::Api;

/// The longest range asked at once, in days.
pub const MAX_DAYS: i64 = 366;
/// The range's length when `from` is not given, in days.
const DEFAULT_DAYS: i64 = 30;

/// The range of days.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsRange {
    /// The first day, `YYYY-MM-DD` (UTC); 29 days before `to` when absent.
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub from: Option<String>,
    /// The last day, `YYYY-MM-DD` (UTC), included; today when absent.
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub to: Option<String>,
}

/// Statistics over a range of UTC days.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StatsView {
    /// The first day, `YYYY-MM-DD`.
    pub from: String,
    /// The last day, `YYYY-MM-DD`.
    pub to: String,
    /// Each day of the range, oldest first (days without updates have zeros).
    pub days: Vec<DayView>,
    /// The whole range.
    pub totals: TotalsView,
}

/// One UTC day.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DayView {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Updates handled (blocked users' included).
    pub updates: u64,
    /// Updates of blocked users: stored, not handled.
    pub blocked: u64,
    /// Updates whose handling failed: a step failed (the error reply was sent) or the update
    /// was set aside as a dead letter.
    pub errors: u64,
    /// Distinct users with an update handled that day.
    pub active_users: u64,
    /// Reply latency's median, in ms: the upper bound of its histogram bucket; `null` without
    /// handled updates.
    pub latency_p50_ms: Option<u64>,
    /// Reply latency's 95th percentile, in ms, as `latency_p50_ms`.
    pub latency_p95_ms: Option<u64>,
}

/// The range's totals.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TotalsView {
    pub updates: u64,
    pub blocked: u64,
    pub errors: u64,
    /// Distinct active users over the range.
    pub active_users: u64,
    /// Distinct active users on the range's last day.
    pub daily_active_users: u64,
    /// Distinct active users over the 7 days ending with the range's last day.
    pub weekly_active_users: u64,
    /// Distinct active users over the 30 days ending with the range's last day.
    pub monthly_active_users: u64,
    pub latency_p50_ms: Option<u64>,
    pub latency_p95_ms: Option<u64>,
}

pub(super) fn routes() -> OpenApiRouter<Api> {
    OpenApiRouter::new().routes(routes!(bot_stats)).routes(routes!(workspace_stats))
}

/// A `YYYY-MM-DD` date as days since 1970-01-01; a 400 naming `parameter` otherwise.
fn parse_day(text: &str, parameter: &str) -> Result<i64, Problem> {
    let bad = || {
        let detail = format!("`{text}` is not a date: expected YYYY-MM-DD (UTC), e.g. 2026-01-31");
        Problem::bad_request(format!("the query parameter `{parameter}` is not a date"))
            .with_errors(vec![FieldError::parameter(parameter, detail)])
    };
    let parts: Vec<&str> = text.split('-').collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if parts.len() != 3 || !digits(parts[0], 4) || !digits(parts[1], 2) || !digits(parts[2], 2) {
        return Err(bad());
    }
    let (year, month, day) = (
        parts[0].parse().map_err(|_| bad())?,
        parts[1].parse().map_err(|_| bad())?,
        parts[2].parse().map_err(|_| bad())?,
    );
    let days = days_from_civil(year, month, day);
    // 2026-02-30 is not a day: it does not come back the same.
    if !(1..=12).contains(&month) || civil_from_days(days) != (year, month, day) {
        return Err(bad());
    }
    Ok(days)
}

fn format_day(days: i64) -> String {
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The range asked for, checked: days since 1970-01-01, `from` ≤ `to`, at most [`MAX_DAYS`].
fn range(asked: &StatsRange) -> Result<(i64, i64), Problem> {
    let today = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .div_euclid(DAY);
    let to = asked.to.as_deref().map(|to| parse_day(to, "to")).transpose()?.unwrap_or(today);
    let from =
        asked.from.as_deref().map(|from| parse_day(from, "from")).transpose()?.unwrap_or(to - (DEFAULT_DAYS - 1));
    let refuse =
        |detail: String| Problem::bad_request(detail.clone()).with_errors(vec![FieldError::parameter("from", detail)]);
    if from > to {
        return Err(refuse(format!("`from` ({}) is after `to` ({})", format_day(from), format_day(to))));
    }
    if to - from + 1 > MAX_DAYS {
        return Err(refuse(format!("the range is {} days: at most {MAX_DAYS} at once", to - from + 1)));
    }
    Ok((from, to))
}

fn view((from, to): (i64, i64), stats: &Stats) -> StatsView {
    let p = |counts: &DayCounts| (counts.latency_percentile(0.5), counts.latency_percentile(0.95));
    let days = stats
        .days
        .iter()
        .map(|(day, counts, active)| {
            let (latency_p50_ms, latency_p95_ms) = p(counts);
            DayView {
                day: format_day(*day),
                updates: counts.updates,
                blocked: counts.blocked,
                errors: counts.errors,
                active_users: *active,
                latency_p50_ms,
                latency_p95_ms,
            }
        })
        .collect();
    let total = stats.total();
    let (latency_p50_ms, latency_p95_ms) = p(&total);
    let totals = TotalsView {
        updates: total.updates,
        blocked: total.blocked,
        errors: total.errors,
        active_users: stats.active_users,
        daily_active_users: stats.days.last().map_or(0, |(_, _, active)| *active),
        weekly_active_users: stats.weekly_active_users,
        monthly_active_users: stats.monthly_active_users,
        latency_p50_ms,
        latency_p95_ms,
    };
    StatsView { from: format_day(from), to: format_day(to), days, totals }
}

/// The bot's statistics per UTC day. A bot that never ran has zeros.
#[utoipa::path(get, path = "/api/v1/bots/{name}/stats", tag = "stats", params(("name" = String, Path), StatsRange),
    responses((status = 200, body = StatsView)))]
async fn bot_stats(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
    Params(asked): Params<StatsRange>,
) -> Result<Json<StatsView>, Problem> {
    Ok(Json(of_bot(&api, &caller, &name, &asked).await?))
}

/// The workspace's bot `name`'s statistics over the range asked (any role).
pub(crate) async fn of_bot(api: &Api, caller: &Caller, name: &str, asked: &StatsRange) -> Result<StatsView, Problem> {
    caller.require(Role::Viewer)?;
    let range = range(asked)?;
    let bot = find(api, caller, name).await?;
    let bots: Vec<u64> = data_id(&bot).into_iter().collect();
    let stats = api.store.stats(&bots, range.0, range.1).await.map_err(store_failed("reading the statistics"))?;
    Ok(view(range, &stats))
}

/// The workspace's statistics per UTC day: every bot's added up, a user active with several
/// bots counted once.
#[utoipa::path(get, path = "/api/v1/stats", tag = "stats", params(StatsRange),
    responses((status = 200, body = StatsView)))]
async fn workspace_stats(
    State(api): State<Api>,
    caller: Caller,
    Params(asked): Params<StatsRange>,
) -> Result<Json<StatsView>, Problem> {
    Ok(Json(of_workspace(&api, &caller, &asked).await?))
}

/// The caller's workspace's statistics over the range asked, every bot's added up (any role).
pub(crate) async fn of_workspace(api: &Api, caller: &Caller, asked: &StatsRange) -> Result<StatsView, Problem> {
    caller.require(Role::Viewer)?;
    let range = range(asked)?;
    let records = api.store.bots(caller.workspace).await.map_err(store_failed("reading the bots"))?;
    let bots: Vec<u64> = records.iter().filter_map(data_id).collect();
    let stats = api.store.stats(&bots, range.0, range.1).await.map_err(store_failed("reading the statistics"))?;
    Ok(view(range, &stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_parse_strictly_and_format_back() {
        assert_eq!(parse_day("1970-01-01", "from").unwrap(), 0);
        assert_eq!(parse_day("2024-02-29", "from").map(format_day).unwrap(), "2024-02-29");
        for bad in ["2023-02-29", "2026-13-01", "2026-00-10", "2026-1-01", "20260101", "yesterday", "2026-01-01T00:00"]
        {
            let problem = parse_day(bad, "to").unwrap_err();
            assert_eq!(problem.status, 400, "{bad}");
            assert_eq!(problem.errors[0].parameter.as_deref(), Some("to"), "{bad}");
        }
    }
}
