//! The custom surface, named once: command ids and their argument and result types,
//! camelCase on the wire (see INTERFACE.md).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower_lsp_server::ls_types::Range;

pub const RUN_ACTION: &str = "codex.runAction";
pub const ASK: &str = "codex.ask";
pub const EXPLAIN: &str = "codex.explain";
pub const RESET_CHAIN: &str = "codex.resetChain";
pub const CHAIN_INFO: &str = "codex.chainInfo";
pub const ALL_COMMANDS: &[&str] = &[RUN_ACTION, ASK, EXPLAIN, RESET_CHAIN, CHAIN_INFO];

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunActionArgs {
    pub uri: String,
    pub range: Range,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostic: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed: Option<bool>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AskArgs {
    pub uri: String,
    pub range: Range,
    pub instruction: String,
    #[serde(default)]
    pub version: Option<i32>,
    #[serde(default)]
    pub confirmed: Option<bool>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RangeArgs {
    pub uri: String,
    pub range: Range,
    #[serde(default)]
    pub version: Option<i32>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UriArgs {
    pub uri: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EditResult {
    pub applied: bool,
    pub response_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExplainResult {
    pub response_id: String,
    pub text: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ChainInfo {
    pub response_id: String,
    pub turns: u32,
}
