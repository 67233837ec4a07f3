//! How backups are named: `ferrogram-YYYYMMDDTHHMMSS.mmmZ.KIND`, the UTC time the backup was
//! taken, to the millisecond, and its kind (`sqlite`: a snapshot of a SQLite database;
//! `json`: every bot's export, from PostgreSQL). Names sort by time, so the newest is the last;
//! only names of this form are listed, restored or deleted by retention.

use std::time::SystemTime;

/// What a backup holds, by its name's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A SQLite database file (`VACUUM INTO`).
    Sqlite,
    /// The all-bots document of `ferrogram_store::Store::export_all_bots`.
    Json,
}

impl Kind {
    fn extension(self) -> &'static str {
        match self {
            Kind::Sqlite => "sqlite",
            Kind::Json => "json",
        }
    }
}

/// A UTC time broken down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utc {
    year: i64,
    month: u32,
    day: u32,
    hour: u64,
    minute: u64,
    second: u64,
    millis: u32,
}

/// `time` in UTC (times before 1970 count as 1970).
pub fn utc(time: SystemTime) -> Utc {
    let since = time.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, of_day) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Utc {
        year,
        month,
        day,
        hour: of_day / 3600,
        minute: of_day % 3600 / 60,
        second: of_day % 60,
        millis: since.subsec_millis(),
    }
}

impl Utc {
    /// `YYYYMMDDTHHMMSSZ`, as Signature Version 4's `x-amz-date`.
    pub fn compact_seconds(&self) -> String {
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// The name of a backup of `kind` taken at `time`.
pub fn name(kind: Kind, time: SystemTime) -> String {
    let t = utc(time);
    format!(
        "ferrogram-{:04}{:02}{:02}T{:02}{:02}{:02}.{:03}Z.{}",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        t.millis,
        kind.extension()
    )
}

/// The kind of a backup named by [`name`]; `None` for any other name (never listed,
/// restored or deleted).
pub fn parse(name: &str) -> Option<Kind> {
    let rest = name.strip_prefix("ferrogram-")?;
    let (stamp, extension) = rest.split_once("Z.")?;
    let kind = [Kind::Sqlite, Kind::Json].into_iter().find(|kind| kind.extension() == extension)?;
    let bytes = stamp.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    let shaped =
        bytes.len() == 19 && digits(0..8) && bytes[8] == b'T' && digits(9..15) && bytes[15] == b'.' && digits(16..19);
    shaped.then_some(kind)
}

/// When the backup `name` was taken, read back from its name; `None` if it is not a backup's.
pub fn taken_at(name: &str) -> Option<SystemTime> {
    parse(name)?;
    let stamp = name.strip_prefix("ferrogram-")?;
    let number = |range: std::ops::Range<usize>| stamp.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (number(0..4)?, number(4..6)?, number(6..8)?);
    let (hour, minute, second, millis) = (number(9..11)?, number(11..13)?, number(13..15)?, number(16..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    // Howard Hinnant's civil-to-days algorithm.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let millis = ((days * 86_400 + hour * 3600 + minute * 60 + second) * 1000).checked_add(millis)?;
    Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(millis).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn names_carry_the_utc_time_and_sort_by_it() {
        // 2026-12-07T15:21:22.045Z
        let time = SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_656_882_045);
        assert_eq!(name(Kind::Sqlite, time), "ferrogram-20261207T152122.045Z.sqlite");
        assert_eq!(
            utc(SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400)).compact_seconds(),
            "20000229T000000Z"
        );
        assert_eq!(utc(SystemTime::UNIX_EPOCH).compact_seconds(), "19700101T000000Z");
        let later = name(Kind::Json, time + Duration::from_millis(1));
        assert!(name(Kind::Json, time) < later);
        assert_eq!(parse(&later), Some(Kind::Json));
        assert_eq!(parse("ferrogram-20261207T152122.045Z.sqlite"), Some(Kind::Sqlite));
        for time in [time, SystemTime::UNIX_EPOCH + Duration::from_millis(951_782_400_999)] {
            assert_eq!(taken_at(&name(Kind::Sqlite, time)), Some(time));
        }
        assert_eq!(taken_at("ferrogram-20261307T152122.045Z.sqlite"), None, "month 13");
        assert_eq!(taken_at("notes.txt"), None);
    }

    #[test]
    fn other_names_are_not_backups() {
        for other in [
            "ferrogram.db",
            "ferrogram-20261207T152122.045Z.db",
            "ferrogram-20261207T152122Z.sqlite",
            "ferrogram-2026120xT152122.045Z.sqlite",
            ".ferrogram-20261207T152122.045Z.sqlite.partial",
            "ferrogram-20261207T152122.045Z.sqlite.partial",
            "notes.txt",
        ] {
            assert_eq!(parse(other), None, "{other}");
        }
    }
}
