//! A host that runs no bots, for the tests whose routes only read and write the store
//! (broadcasts, event webhooks): every bot is unknown to it and its list is empty.

use ferrogram_engine::BoxFuture;
use ferrogram_server::bots::{BotControl, BotStatus, ControlError};

pub struct NoBots;

impl BotControl for NoBots {
    fn list(&self, _: i64) -> BoxFuture<'_, Vec<BotStatus>> {
        Box::pin(async { Vec::new() })
    }
    fn status<'a>(&'a self, _: i64, _: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>> {
        Box::pin(async { Err(ControlError::UnknownBot) })
    }
    fn start<'a>(&'a self, _: i64, _: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>> {
        Box::pin(async { Err(ControlError::UnknownBot) })
    }
    fn stop<'a>(&'a self, _: i64, _: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>> {
        Box::pin(async { Err(ControlError::UnknownBot) })
    }
    fn reload<'a>(&'a self, _: i64, _: &'a str) -> BoxFuture<'a, Result<BotStatus, ControlError>> {
        Box::pin(async { Err(ControlError::UnknownBot) })
    }
}
