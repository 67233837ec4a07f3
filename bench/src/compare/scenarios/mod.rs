//! The six scenarios of the comparison, one file each (`compare` runs them in the order of
//! RESULTS.md: rig, echo, open loop, bulk, menu, many).

pub mod bulk;
pub mod echo;
pub mod many;
pub mod menu;
pub mod open_loop;
pub mod rig;
