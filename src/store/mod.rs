//! State that outlives the process.

pub mod chains;
