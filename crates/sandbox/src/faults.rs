//! Fault injection for tests: errors, delays and dropped answers a bot's next calls get.

use crate::error::ApiError;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A fault to inject into a bot's next calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// How many matching calls it hits.
    pub count: u32,
    /// The error to answer with: 400 (the call refused for good, as Telegram refuses a text too
    /// long or a button URL it does not accept), 401 (the token refused, as after BotFather's
    /// /revoke, for these calls only), 429, 500, 502, 503 or 504; absent for a delay only.
    #[serde(default)]
    pub status: Option<u16>,
    /// The error's description instead of the status's usual one (a 400's is
    /// "Bad Request: <description>" when it does not start with "Bad Request").
    #[serde(default)]
    pub description: Option<String>,
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
            Some(status) if ![400, 401, 429, 500, 502, 503, 504].contains(&status) => {
                Err(format!("status {status} is not one of 400, 401, 429, 500, 502, 503, 504"))
            }
            None if self.description.is_some() => Err("a description goes with a status".into()),
            Some(_) if self.description.as_ref().is_some_and(|d| d.trim().is_empty()) => {
                Err("description must not be empty".into())
            }
            _ => Ok(()),
        }
    }

    fn matches(&self, method: &str) -> bool {
        self.methods.as_ref().is_none_or(|methods| methods.iter().any(|m| m.eq_ignore_ascii_case(method)))
    }

    fn error(&self) -> Option<ApiError> {
        let status = self.status?;
        if let Some(description) = &self.description {
            return Some(if status == 400 && !description.starts_with("Bad Request") {
                ApiError::bad_request(description)
            } else {
                ApiError { code: status, description: description.clone(), retry_after: self.retry_after }
            });
        }
        Some(match status {
            400 => ApiError::bad_request("message can't be sent"),
            401 => ApiError::new(401, "Unauthorized"),
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
    fn faults_hit_matching_methods_count_times() {
        let mut faults = Faults::default();
        faults.add(Fault {
            count: 2,
            status: Some(500),
            description: None,
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
        let fault = Fault {
            count: 1,
            status: Some(404),
            description: None,
            retry_after: None,
            delay_ms: None,
            drop_answer: false,
            methods: None,
        };
        assert!(fault.validate().is_err());
        let delay = Fault { status: None, delay_ms: Some(10), ..fault.clone() };
        assert!(delay.validate().is_ok());
        let dropped = Fault { status: None, drop_answer: true, ..fault.clone() };
        assert!(dropped.validate().is_ok());
        let contradictory = Fault { status: Some(500), drop_answer: true, ..fault.clone() };
        assert!(contradictory.validate().is_err());
        let orphan = Fault { status: None, delay_ms: Some(10), description: Some("x".into()), ..fault.clone() };
        assert!(orphan.validate().is_err(), "a description without a status");
    }

    #[test]
    fn a_400_fault_answers_bad_request_with_its_description() {
        let fault = Fault {
            count: 1,
            status: Some(400),
            description: Some("message is too long".into()),
            retry_after: None,
            delay_ms: None,
            drop_answer: false,
            methods: None,
        };
        assert!(fault.validate().is_ok());
        let error = fault.error().unwrap();
        assert_eq!((error.code, error.description.as_str()), (400, "Bad Request: message is too long"));
        let plain = Fault { description: None, ..fault };
        assert_eq!(plain.error().unwrap().description, "Bad Request: message can't be sent");
    }
}
