//! Operator commands beside the server: `copy-data` moves a whole installation between databases
//! (either backend to either), `backup` takes a verified online copy of the embedded store.

pub mod backup;
pub mod copy;
mod progress;
