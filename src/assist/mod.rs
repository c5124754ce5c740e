//! The domain: actions, prompts, reading the model's answer, turning code into minimal
//! edits, and the safety rules. No LSP or HTTP types in these signatures.

pub mod actions;
pub mod answer;
pub mod chain;
pub mod confine;
pub mod consent;
pub mod diff;
pub mod edit;
pub mod exclude;
pub mod hidden;
pub mod patch;
pub mod prompt;
pub mod redact;
pub mod selection;
pub mod sensitive;
pub mod target;
