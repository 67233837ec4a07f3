//! When a job runs: a cron expression (UTC, via `croner`) or a fixed interval (`every: 5m`).
//! Shared by the validator and the engine, so both read schedules the same way.

use std::cmp::Ordering;
use std::str::FromStr;
use std::time::Duration;

use croner::{CivilDate, CivilDateTime, CivilTime, Cron, CronDateTime, Resolution, Weekday, errors::CronError};

use crate::Job;

/// The shortest `every`.
pub const MIN_EVERY: Duration = Duration::from_secs(1);

/// A job's parsed schedule.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// A cron expression, evaluated in UTC.
    Cron(Box<Cron>),
    /// A fixed interval.
    Every(Duration),
}

/// Why a schedule does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError {
    pub message: String,
    /// The byte offset in the expression of the part at fault, when known.
    pub offset: Option<usize>,
}

impl std::fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl Schedule {
    /// The schedule of `job`: exactly one of `cron` and `every`.
    pub fn of(job: &Job) -> Result<Schedule, ScheduleError> {
        match (&job.cron, &job.every) {
            (Some(cron), None) => parse_cron(cron).map(|c| Schedule::Cron(Box::new(c))),
            (None, Some(every)) => parse_every(every).map(Schedule::Every),
            _ => Err(ScheduleError { message: "a job needs exactly one of `cron` and `every`".into(), offset: None }),
        }
    }

    /// The first run strictly after `after` (seconds since the Unix epoch, UTC).
    pub fn next_after(&self, after: u64) -> Option<u64> {
        match self {
            Schedule::Every(every) => after.checked_add(every.as_secs().max(1)),
            Schedule::Cron(cron) => {
                let next = cron.find_next_occurrence(&UnixTime(after as i64), false).ok()?;
                u64::try_from(next.0).ok()
            }
        }
    }
}

/// `30s`, `5m`, `1h`, `1d` (a whole number and a unit), at least one second.
pub fn parse_every(text: &str) -> Result<Duration, ScheduleError> {
    let text = text.trim();
    let bad = |message: String| ScheduleError { message, offset: None };
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| {
        bad(format!("`{text}` is not an interval: write a whole number and a unit, like `30s` or `5m`"))
    })?;
    let seconds = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        other => {
            return Err(ScheduleError {
                message: format!("unknown unit `{other}` in `{text}`: use `s`, `m`, `h` or `d`"),
                offset: Some(split),
            });
        }
    };
    let every = Duration::from_secs(number.saturating_mul(seconds));
    if every < MIN_EVERY {
        return Err(bad(format!("`{text}` is shorter than the minimum of 1s")));
    }
    Ok(every)
}

/// A cron expression (5 fields, or 6 with seconds first). On error, says which field is wrong
/// and where it starts.
pub fn parse_cron(text: &str) -> Result<Cron, ScheduleError> {
    match Cron::from_str(text) {
        Ok(cron) => Ok(cron),
        Err(error) => {
            let fields: Vec<(usize, &str)> = fields(text);
            // Find the field at fault: the first that fails with every other field `*`.
            let culprit = (fields.len() == 5 || fields.len() == 6)
                .then(|| {
                    (0..fields.len()).find(|&i| {
                        let probe: Vec<&str> =
                            fields.iter().enumerate().map(|(j, (_, f))| if i == j { *f } else { "*" }).collect();
                        Cron::from_str(&probe.join(" ")).is_err()
                    })
                })
                .flatten();
            let message = describe(&error);
            match culprit {
                Some(i) => {
                    let names: &[&str] = if fields.len() == 6 { &FIELD_NAMES_6 } else { &FIELD_NAMES_5 };
                    Err(ScheduleError {
                        message: format!(
                            "invalid cron expression: field {} ({}) `{}`, at character {}: {message}",
                            i + 1,
                            names[i],
                            fields[i].1,
                            fields[i].0 + 1
                        ),
                        offset: Some(fields[i].0),
                    })
                }
                None => Err(ScheduleError { message: format!("invalid cron expression: {message}"), offset: None }),
            }
        }
    }
}

const FIELD_NAMES_5: [&str; 5] = ["minute", "hour", "day of month", "month", "day of week"];
const FIELD_NAMES_6: [&str; 6] = ["second", "minute", "hour", "day of month", "month", "day of week"];

fn fields(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &text[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    out
}

fn describe(error: &CronError) -> String {
    match error {
        CronError::EmptyPattern => "the expression is empty".into(),
        CronError::InvalidPattern(m) | CronError::IllegalCharacters(m) | CronError::ComponentError(m) => {
            let m = m.trim_end_matches('.');
            let mut chars = m.chars();
            chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default()
        }
        other => other.to_string(),
    }
}

/// Seconds since the Unix epoch, in UTC: the time type croner searches over (no time zone
/// library needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct UnixTime(i64);

impl CronDateTime for UnixTime {
    fn to_civil(&self) -> CivilDateTime {
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        CivilDateTime::new(
            CivilDate::from_parts_unchecked(y, m, d),
            CivilTime::from_parts_unchecked((secs / 3600) as u32, (secs % 3600 / 60) as u32, (secs % 60) as u32),
        )
    }

    fn civil_weekday(&self) -> Weekday {
        // 1970-01-01 was a Thursday.
        Weekday::from_days_from_sunday((self.0.div_euclid(86_400) + 4).rem_euclid(7) as u32)
    }

    fn resolve_civil(&self, civil: CivilDateTime) -> Result<Resolution<Self>, CronError> {
        let days = days_from_civil(civil.year(), civil.month(), civil.day());
        let secs = civil.hour() as i64 * 3600 + civil.minute() as i64 * 60 + civil.second() as i64;
        Ok(Resolution::Single(UnixTime(days * 86_400 + secs)))
    }

    fn checked_add_seconds(&self, seconds: i64) -> Option<Self> {
        self.0.checked_add(seconds).map(UnixTime)
    }

    fn cmp_instant(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day counted from 1970-01-01 (proleptic Gregorian).
pub fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    ((y + i64::from(m <= 2)) as i32, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_every("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_every("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_every("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_every("1d"), Ok(Duration::from_secs(86_400)));
        assert!(parse_every("0s").unwrap_err().message.contains("minimum"));
        assert_eq!(parse_every("5w").unwrap_err().offset, Some(1));
        assert!(parse_every("soon").is_err());
        assert!(parse_every("").is_err());
    }

    #[test]
    fn dates_round_trip() {
        for days in [-800_000, -1, 0, 1, 59, 10_957, 19_782, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn cron_next_runs_in_utc() {
        // 2024-02-29T10:15:00Z, a Thursday.
        let t = 1_709_201_700;
        let daily = Schedule::Cron(Box::new(parse_cron("0 9 * * *").unwrap()));
        assert_eq!(daily.next_after(t), Some(1_709_283_600)); // 2024-03-01T09:00:00Z
        let mondays = Schedule::Cron(Box::new(parse_cron("30 8 * * MON").unwrap()));
        assert_eq!(mondays.next_after(t), Some(1_709_541_000)); // 2024-03-04T08:30:00Z
        let every = Schedule::Every(Duration::from_secs(300));
        assert_eq!(every.next_after(t), Some(t + 300));
    }

    #[test]
    fn cron_errors_name_the_field() {
        let error = parse_cron("0 25 * * *").unwrap_err();
        assert_eq!(error.offset, Some(2), "{error}");
        assert_eq!(error.message, "invalid cron expression: field 2 (hour) `25`, at character 3: number out of bounds");
        assert!(parse_cron("every day").is_err());
        assert!(parse_cron("").is_err());
    }
}
