//! What a bot process used, from /proc (Linux): CPU time, resident and peak resident memory.

use std::time::Duration;

/// One reading of a process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcStats {
    /// utime + stime.
    pub cpu: Duration,
    /// VmRSS, KiB.
    pub rss_kib: u64,
    /// VmHWM (peak resident set), KiB.
    pub hwm_kib: u64,
}

/// Clock ticks per second of /proc/PID/stat (USER_HZ, 100 on every Linux architecture in use).
const TICKS_PER_SECOND: u64 = 100;

pub fn read(pid: u32) -> Option<ProcStats> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let ticks = cpu_ticks(&stat)?;
    Some(ProcStats {
        cpu: Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND),
        rss_kib: status_kib(&status, "VmRSS")?,
        hwm_kib: status_kib(&status, "VmHWM")?,
    })
}

/// utime + stime (fields 14 and 15) of a /proc/PID/stat line; the command name in parentheses
/// may contain spaces, so fields are counted after its closing parenthesis.
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': field 3 (state) is index 0, so field N is index N - 3.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// A `Name:   123 kB` line of /proc/PID/status.
pub fn status_kib(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.strip_prefix(name).is_some_and(|r| r.starts_with(':')))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_and_status() {
        let stat = "4242 (node (main) x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 150 25 0 0 20 0 11 0 99";
        assert_eq!(cpu_ticks(stat), Some(175));
        let status = "Name:\tnode\nVmHWM:\t  81234 kB\nVmRSS:\t  70000 kB\n";
        assert_eq!(status_kib(status, "VmHWM"), Some(81234));
        assert_eq!(status_kib(status, "VmRSS"), Some(70000));
        assert_eq!(status_kib(status, "VmSwap"), None);
    }

    #[test]
    fn reads_this_process() {
        let me = read(std::process::id()).expect("/proc is there");
        assert!(me.rss_kib > 0 && me.hwm_kib > 0);
    }
}
