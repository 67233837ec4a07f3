//! Ferrogram's HTTP side, served next to the engine: for now the webhook receiver that
//! Telegram POSTs updates to.

pub mod webhook;
