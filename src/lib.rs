//! codex-lsp: a language server that turns code actions into OpenAI Responses API calls
//! and applies the model's code as versioned, minimal workspace edits.
//!
//! Dependencies point one way: `lsp` -> `assist`/`document` -> `openai`/`store`.

pub mod assist;
pub mod disk;
pub mod document;
pub mod logging;
pub mod lsp;
pub mod memory;
pub mod openai;
pub mod settings;
pub mod store;
pub mod sync;
