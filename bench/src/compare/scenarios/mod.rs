//! The five scenarios of the comparison, one file each, in the order `compare` runs them.

pub mod bulk;
pub mod echo;
pub mod many;
pub mod menu;
pub mod rig;
