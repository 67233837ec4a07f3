//! Benchmarks of Ferrogram on the sandbox: beside teloxide, aiogram and grammY (`compare`, in
//! [`compare`]), the sandbox's own capacity (`sandbox_capacity`), and durability on against off
//! (`durability`), and the REST API's reads under load (`api_reads`). The binaries under
//! `src/bin` are their entry points; this library holds what they share: latency statistics,
//! the open-loop schedule, /proc readings, the counting proxy and the report's parts.

pub mod capacity;
pub mod compare;
pub mod durability;
pub mod open_loop;
pub mod procfs;
pub mod proxy;
pub mod report;

use std::time::Duration;

/// Latencies of one run, summarised.
#[derive(Debug, Clone, PartialEq)]
pub struct Latencies {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub p999: Duration,
    pub max: Duration,
}

impl Latencies {
    pub fn from_samples(mut samples: Vec<Duration>) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
        Some(Self {
            count: samples.len(),
            p50: at(0.50),
            p99: at(0.99),
            p999: at(0.999),
            max: samples[samples.len() - 1],
        })
    }
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// The rig of every benchmark here: the sandbox in this process, on loopback, with its flood
/// limits off.
pub async fn sandbox_without_limits() -> ferrogram_sandbox::Sandbox {
    let mut config = ferrogram_sandbox::Config::default();
    config.limits.enabled = false;
    ferrogram_sandbox::Sandbox::start(config).await.expect("sandbox starts")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_series() {
        let samples = (1..=100).map(Duration::from_millis).collect();
        let l = Latencies::from_samples(samples).unwrap();
        assert_eq!(
            (l.count, l.p50, l.p99, l.p999, l.max),
            (
                100,
                Duration::from_millis(51),
                Duration::from_millis(99),
                Duration::from_millis(100),
                Duration::from_millis(100)
            )
        );
        let thousand = Latencies::from_samples((1..=1000).map(Duration::from_millis).collect()).unwrap();
        assert_eq!((thousand.p99, thousand.p999), (Duration::from_millis(990), Duration::from_millis(999)));
        assert!(Latencies::from_samples(vec![]).is_none());
    }
}
