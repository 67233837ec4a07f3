//! Delivering: a handler's effects committed with the update's "handled" mark, then its Bot API
//! calls sent from the outbox.
//!
//! [`commit`] groups the commits of every bot into few store transactions and retries a store
//! that is briefly down; [`outbox`] delivers each chat's calls in order through the bot's flood
//! scheduler, holds a chat whose call failed until it goes out, and answers a refused call with
//! the bot's `errors` reply; [`bulk`] makes one paced call for the host (a broadcast's) and says
//! how it ended. Nothing here knows the interpreter: it takes a `Commit`.

pub mod bulk;
pub mod commit;
pub mod outbox;
