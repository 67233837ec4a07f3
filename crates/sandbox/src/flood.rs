//! Flood limits like Telegram's, and fault injection for tests.
//!
//! Sends are counted per bot in token buckets: one per chat (about 1 message a second with a
//! short burst), one per group (20 a minute) and one for the whole bot (30 a second). A send
//! that finds any bucket empty gets a 429 with the seconds until it would pass.

use crate::error::ApiError;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    pub enabled: bool,
    pub per_chat_per_second: f64,
    pub per_chat_burst: f64,
    pub per_group_per_minute: f64,
    pub per_group_burst: f64,
    pub per_bot_per_second: f64,
    pub per_bot_burst: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            enabled: true,
            per_chat_per_second: 1.0,
            per_chat_burst: 3.0,
            per_group_per_minute: 20.0,
            per_group_burst: 20.0,
            per_bot_per_second: 30.0,
            per_bot_burst: 30.0,
        }
    }
}

impl Limits {
    /// Rates must be positive and bursts at least 1: a bucket that never holds a whole token
    /// would answer 429 forever.
    pub fn validate(&self) -> Result<(), String> {
        let rates = [
            ("per_chat_per_second", self.per_chat_per_second),
            ("per_group_per_minute", self.per_group_per_minute),
            ("per_bot_per_second", self.per_bot_per_second),
        ];
        if let Some((name, value)) = rates.iter().find(|(_, v)| !v.is_finite() || *v <= 0.0) {
            return Err(format!("{name} must be a positive number, not {value}"));
        }
        let bursts = [
            ("per_chat_burst", self.per_chat_burst),
            ("per_group_burst", self.per_group_burst),
            ("per_bot_burst", self.per_bot_burst),
        ];
        match bursts.iter().find(|(_, v)| !v.is_finite() || *v < 1.0) {
            Some((name, value)) => Err(format!("{name} must be at least 1 (one message), not {value}")),
            None => Ok(()),
        }
    }
}

/// A token bucket: `tokens` refill at `rate` per second up to `burst`.
#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    fn full(burst: f64, now: Instant) -> Self {
        Self { tokens: burst, updated: now }
    }

    fn refill(&mut self, rate: f64, burst: f64, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.updated = now;
    }

    /// Seconds until one token is there (0 when one is there now).
    fn wait(&self, rate: f64) -> f64 {
        if self.tokens >= 1.0 { 0.0 } else { (1.0 - self.tokens) / rate }
    }
}

/// One bot's buckets.
#[derive(Debug, Default)]
pub struct FloodState {
    chats: HashMap<i64, Bucket>,
    groups: HashMap<i64, Bucket>,
    bot: Option<Bucket>,
}

impl FloodState {
    /// Counts one send to `chat_id`, or answers the 429 it gets.
    pub fn admit(&mut self, limits: &Limits, chat_id: i64, is_group: bool, now: Instant) -> Result<(), ApiError> {
        if !limits.enabled {
            return Ok(());
        }
        let chat_rate = limits.per_chat_per_second;
        let group_rate = limits.per_group_per_minute / 60.0;
        let bot_rate = limits.per_bot_per_second;
        let chat = self.chats.entry(chat_id).or_insert_with(|| Bucket::full(limits.per_chat_burst, now));
        chat.refill(chat_rate, limits.per_chat_burst, now);
        let bot = self.bot.get_or_insert_with(|| Bucket::full(limits.per_bot_burst, now));
        bot.refill(bot_rate, limits.per_bot_burst, now);
        let mut wait = chat.wait(chat_rate).max(bot.wait(bot_rate));
        let group = if is_group {
            let group = self.groups.entry(chat_id).or_insert_with(|| Bucket::full(limits.per_group_burst, now));
            group.refill(group_rate, limits.per_group_burst, now);
            wait = wait.max(group.wait(group_rate));
            Some(group)
        } else {
            None
        };
        if wait > 0.0 {
            return Err(ApiError::too_many_requests(wait.ceil().max(1.0) as u64));
        }
        if let Some(group) = group {
            group.tokens -= 1.0;
        }
        self.chats.get_mut(&chat_id).expect("inserted above").tokens -= 1.0;
        self.bot.as_mut().expect("inserted above").tokens -= 1.0;
        Ok(())
    }
}

/// A fault to inject into a bot's next calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// How many matching calls it hits.
    pub count: u32,
    /// The error to answer with: 429, 500, 502, 503 or 504; absent for a delay only.
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub retry_after: Option<u64>,
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// Carry the call out, then drop the connection without answering: the bot cannot tell
    /// whether its request was delivered.
    #[serde(default)]
    pub drop_answer: bool,
    /// Method names it applies to (any letter case); all methods when absent.
    #[serde(default)]
    pub methods: Option<Vec<String>>,
}

impl Fault {
    pub fn validate(&self) -> Result<(), String> {
        if self.count == 0 {
            return Err("count must be at least 1".into());
        }
        match self.status {
            Some(_) if self.drop_answer => Err("drop_answer carries the call out: it takes no status".into()),
            None if self.delay_ms.is_none() && !self.drop_answer => {
                Err("give a status, a delay_ms or drop_answer (a delay_ms goes with either)".into())
            }
            Some(status) if ![429, 500, 502, 503, 504].contains(&status) => {
                Err(format!("status {status} is not one of 429, 500, 502, 503, 504"))
            }
            _ => Ok(()),
        }
    }

    fn matches(&self, method: &str) -> bool {
        self.methods.as_ref().is_none_or(|methods| methods.iter().any(|m| m.eq_ignore_ascii_case(method)))
    }

    fn error(&self) -> Option<ApiError> {
        Some(match self.status? {
            429 => ApiError::too_many_requests(self.retry_after.unwrap_or(1)),
            500 => ApiError::new(500, "Internal Server Error"),
            502 => ApiError::new(502, "Bad Gateway"),
            503 => ApiError::new(503, "Service Unavailable"),
            code => ApiError::new(code, "Gateway Timeout"),
        })
    }
}

/// What an injected fault does to one call.
#[derive(Debug, Default, PartialEq)]
pub struct FaultHit {
    pub delay: Option<Duration>,
    pub error: Option<ApiError>,
    pub drop_answer: bool,
}

#[derive(Debug, Default)]
pub struct Faults(Vec<Fault>);

impl Faults {
    pub fn add(&mut self, fault: Fault) {
        self.0.push(fault);
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn pending(&self) -> &[Fault] {
        &self.0
    }

    /// Takes the first fault matching `method`, if any.
    pub fn take(&mut self, method: &str) -> Option<FaultHit> {
        let index = self.0.iter().position(|f| f.matches(method))?;
        let fault = &mut self.0[index];
        fault.count -= 1;
        let hit = FaultHit {
            delay: fault.delay_ms.map(Duration::from_millis),
            error: fault.error(),
            drop_answer: fault.drop_answer,
        };
        if fault.count == 0 {
            self.0.remove(index);
        }
        Some(hit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_chat_allows_a_burst_then_one_a_second() {
        let limits = Limits::default();
        let mut flood = FloodState::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            flood.admit(&limits, 1, false, t0).unwrap();
        }
        let err = flood.admit(&limits, 1, false, t0).unwrap_err();
        assert_eq!((err.code, err.retry_after), (429, Some(1)));
        assert!(flood.admit(&limits, 2, false, t0).is_ok(), "another chat is not limited");
        flood.admit(&limits, 1, false, t0 + Duration::from_millis(1000)).unwrap();
        assert!(flood.admit(&limits, 1, false, t0 + Duration::from_millis(1500)).is_err());
    }

    #[test]
    fn a_group_gets_twenty_a_minute() {
        let limits = Limits { per_chat_burst: 100.0, per_chat_per_second: 100.0, ..Limits::default() };
        let mut flood = FloodState::default();
        let t0 = Instant::now();
        for i in 0..20 {
            flood.admit(&limits, -5, true, t0 + Duration::from_millis(i * 10)).unwrap();
        }
        let err = flood.admit(&limits, -5, true, t0 + Duration::from_millis(200)).unwrap_err();
        assert_eq!(err.retry_after, Some(3), "one message every 3 s refills");
    }

    #[test]
    fn the_bot_wide_limit_spans_chats() {
        let limits = Limits::default();
        let mut flood = FloodState::default();
        let t0 = Instant::now();
        for chat in 0..30 {
            flood.admit(&limits, chat, false, t0).unwrap();
        }
        assert_eq!(flood.admit(&limits, 99, false, t0).unwrap_err().code, 429);
        assert!(flood.admit(&limits, 99, false, t0 + Duration::from_millis(40)).is_ok());
    }

    #[test]
    fn disabled_limits_admit_everything() {
        let limits = Limits { enabled: false, ..Limits::default() };
        let mut flood = FloodState::default();
        let t0 = Instant::now();
        assert!((0..1000).all(|_| flood.admit(&limits, 1, false, t0).is_ok()));
    }

    #[test]
    fn faults_hit_matching_methods_count_times() {
        let mut faults = Faults::default();
        faults.add(Fault {
            count: 2,
            status: Some(500),
            retry_after: None,
            delay_ms: None,
            drop_answer: false,
            methods: Some(vec!["sendMessage".into()]),
        });
        assert!(faults.take("getMe").is_none());
        assert_eq!(faults.take("SENDMESSAGE").unwrap().error.unwrap().code, 500);
        assert!(faults.take("sendMessage").is_some());
        assert!(faults.take("sendMessage").is_none(), "used up");
    }

    #[test]
    fn a_fault_needs_a_known_status_or_a_delay() {
        let fault =
            Fault { count: 1, status: Some(404), retry_after: None, delay_ms: None, drop_answer: false, methods: None };
        assert!(fault.validate().is_err());
        let delay = Fault { status: None, delay_ms: Some(10), ..fault.clone() };
        assert!(delay.validate().is_ok());
        let dropped = Fault { status: None, drop_answer: true, ..fault.clone() };
        assert!(dropped.validate().is_ok());
        let contradictory = Fault { status: Some(500), drop_answer: true, ..fault };
        assert!(contradictory.validate().is_err());
    }
}
