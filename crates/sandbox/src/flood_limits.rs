//! Flood limits like Telegram's.
//!
//! Sends are counted per bot in token buckets: one per chat (about 1 message a second with a
//! short burst), one per group (20 a minute) and one for the whole bot (30 a second). A send
//! that finds any bucket empty gets a 429 with the seconds until it would pass.

use crate::error::ApiError;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
}
