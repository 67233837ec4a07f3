//! Time in templates: `now` (the engine clock's time, in UTC, read once per update or job run)
//! and two filters:
//!
//! - `in_tz(zone)`: a time in an IANA time zone: `now | in_tz("Europe/Berlin")`. It takes a
//!   time (`now`, or what `in_tz` gave), Unix seconds (`record.created_at`) or an RFC 3339 text
//!   (`2026-11-22T02:00:00Z`, as APIs write them).
//! - `strftime(format)`: the same inputs formatted with strftime directives, in the time's zone
//!   (UTC for seconds and texts): `now | in_tz(bot.timezone) | strftime("%a %d %b %H:%M")`.
//!
//! A time is `{timestamp, tz, iso, date, time, year, month, day, hour, minute, second, weekday,
//! isoweekday}`: `date` is `2026-11-21`, `time` `23:05`, `weekday` `Saturday`, `isoweekday` 1
//! (Monday) to 7 (Sunday).

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use minijinja::value::Value as JinjaValue;
use minijinja::{Environment, Error, ErrorKind};
use serde_json::{Value, json};

/// Adds `in_tz` and `strftime` to a bot's template environment.
pub fn register(env: &mut Environment<'static>) {
    env.add_filter("in_tz", |value: JinjaValue, zone: String| -> Result<JinjaValue, Error> {
        let tz = TimeZone::get(&zone).map_err(|_| invalid(format!("in_tz: unknown time zone {zone:?}")))?;
        let zoned = zoned(&value, "in_tz")?.timestamp().to_zoned(tz);
        Ok(crate::interpret::template::to_jinja(describe(&zoned, &zone)))
    });
    env.add_filter("strftime", |value: JinjaValue, format: String| -> Result<String, Error> {
        let zoned = zoned(&value, "strftime")?;
        jiff::fmt::strtime::format(&format, &zoned).map_err(|e| invalid(format!("strftime({format:?}): {e}")))
    });
}

/// The time `now` in UTC, as templates read it.
pub fn now(secs: u64) -> Value {
    let timestamp = Timestamp::from_second(i64::try_from(secs).unwrap_or(i64::MAX)).unwrap_or(Timestamp::MAX);
    describe(&timestamp.to_zoned(TimeZone::UTC), "UTC")
}

fn describe(zoned: &Zoned, zone: &str) -> Value {
    json!({
        "timestamp": zoned.timestamp().as_second(),
        "tz": zone,
        "iso": zoned.timestamp().display_with_offset(zoned.offset()).to_string(),
        "date": zoned.date().to_string(),
        "time": zoned.strftime("%H:%M").to_string(),
        "year": zoned.year(),
        "month": zoned.month(),
        "day": zoned.day(),
        "hour": zoned.hour(),
        "minute": zoned.minute(),
        "second": zoned.second(),
        "weekday": zoned.strftime("%A").to_string(),
        "isoweekday": zoned.weekday().to_monday_one_offset(),
    })
}

/// A template value as a time: a time (its `timestamp` in its `tz`), Unix seconds or an RFC 3339
/// text (both in UTC).
fn zoned(value: &JinjaValue, filter: &str) -> Result<Zoned, Error> {
    let (timestamp, zone) = if let Some(seconds) = value.as_i64() {
        (Timestamp::from_second(seconds).ok(), None)
    } else if let Some(text) = value.as_str() {
        (text.trim().parse::<Timestamp>().ok(), None)
    } else {
        let seconds = value.get_attr("timestamp").ok().and_then(|t| t.as_i64());
        let zone = value.get_attr("tz").ok().and_then(|t| t.as_str().map(str::to_owned));
        (seconds.and_then(|s| Timestamp::from_second(s).ok()), zone)
    };
    let timestamp = timestamp.ok_or_else(|| {
        invalid(format!(
            "{filter}: {value} is not a time (a time, Unix seconds or an RFC 3339 text like 2026-11-21T09:00:00Z)"
        ))
    })?;
    let tz = match zone {
        Some(zone) => TimeZone::get(&zone).map_err(|_| invalid(format!("{filter}: unknown time zone {zone:?}")))?,
        None => TimeZone::UTC,
    };
    Ok(timestamp.to_zoned(tz))
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(source: &str, now: u64) -> Result<String, Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        register(&mut env);
        env.render_str(source, minijinja::context! { now => crate::interpret::template::to_jinja(super::now(now)) })
    }

    // 2026-11-21T22:30:00Z, a Saturday.
    const SATURDAY_NIGHT: u64 = 1_795_300_200;

    #[test]
    fn now_is_utc_and_reads_in_a_time_zone() {
        assert_eq!(
            render("{{ now.date }} {{ now.time }} {{ now.weekday }} {{ now.isoweekday }} {{ now.tz }}", SATURDAY_NIGHT)
                .unwrap(),
            "2026-11-21 22:30 Saturday 6 UTC"
        );
        let berlin = "{% set t = now | in_tz('Europe/Berlin') %}{{ t.date }} {{ t.hour }}:{{ t.minute }} {{ t.weekday }} {{ t.iso }}";
        assert_eq!(render(berlin, SATURDAY_NIGHT).unwrap(), "2026-11-21 23:30 Saturday 2026-11-21T23:30:00+01:00");
        let tokyo = "{{ (now | in_tz('Asia/Tokyo')).date }} {{ (now | in_tz('Asia/Tokyo')).weekday }}";
        assert_eq!(render(tokyo, SATURDAY_NIGHT).unwrap(), "2026-11-22 Sunday");
    }

    #[test]
    fn strftime_formats_times_seconds_and_rfc3339_texts() {
        let source = "{{ now | in_tz('America/New_York') | strftime('%a %d %b %H:%M %Z') }} / \
                      {{ 0 | strftime('%Y-%m-%d %H:%M') }} / {{ '2026-11-22T02:00:00Z' | in_tz('Europe/Berlin') | strftime('%a %H:%M') }}";
        assert_eq!(render(source, SATURDAY_NIGHT).unwrap(), "Sat 21 Nov 17:30 EST / 1970-01-01 00:00 / Sun 03:00");
    }

    #[test]
    fn bad_zones_and_values_are_errors() {
        let error = render("{{ now | in_tz('Europe/Berln') }}", SATURDAY_NIGHT).unwrap_err();
        assert!(error.to_string().contains("unknown time zone \"Europe/Berln\""), "{error}");
        let error = render("{{ 'tomorrow' | strftime('%H') }}", SATURDAY_NIGHT).unwrap_err();
        assert!(error.to_string().contains("is not a time"), "{error}");
    }
}
