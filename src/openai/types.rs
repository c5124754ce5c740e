//! Wire types for `POST /responses`. Requests serialise only what is set (gpt-5 models
//! reject `temperature`/`top_p`); responses tolerate unknown fields and item types,
//! because the gateway and newer models add them freely.

use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateResponse {
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    pub input: Input,
    #[serde(default)]
    pub stream: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Reasoning>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    /// Extra output to include, e.g. `reasoning.encrypted_content` for stateless replay.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
}

impl CreateResponse {
    /// A request with only `model` and `input` set (not streaming).
    pub fn new(model: impl Into<String>, input: impl Into<Input>) -> Self {
        Self {
            model: model.into(),
            instructions: None,
            input: input.into(),
            stream: false,
            max_output_tokens: None,
            temperature: None,
            top_p: None,
            previous_response_id: None,
            reasoning: None,
            tools: Vec::new(),
            tool_choice: None,
            store: None,
            include: Vec::new(),
        }
    }
}

/// A string is shorthand for one user message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Input {
    Text(String),
    Items(Vec<InputItem>),
}

impl From<&str> for Input {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

impl From<String> for Input {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl From<Vec<InputItem>> for Input {
    fn from(v: Vec<InputItem>) -> Self {
        Self::Items(v)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    System,
    Developer,
    Assistant,
}

/// Input items, tagged by `type`. Item `id`s are never sent: with `store:false` the API
/// rejects server ids it did not persist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InputItem {
    Message {
        role: Role,
        content: Vec<InputContent>,
        /// gpt-5.3-codex wants an assistant message's `phase` resent with it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phase: Option<String>,
    },
    /// The model's reasoning, replayed in stateless mode (needs `encrypted_content`).
    Reasoning {
        #[serde(default)]
        summary: Vec<serde_json::Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        encrypted_content: Option<String>,
    },
    /// Echo of the model's own call when history is kept client-side.
    FunctionCall {
        call_id: String,
        name: String,
        arguments: String,
    },
    FunctionCallOutput {
        call_id: String,
        output: String,
    },
}

impl InputItem {
    pub fn message(role: Role, text: impl Into<String>) -> Self {
        let text = text.into();
        let part = if role == Role::Assistant {
            InputContent::OutputText { text }
        } else {
            InputContent::InputText { text }
        };
        Self::Message {
            role,
            content: vec![part],
            phase: None,
        }
    }

    pub fn user_text(text: impl Into<String>) -> Self {
        Self::message(Role::User, text)
    }

    pub fn developer_text(text: impl Into<String>) -> Self {
        Self::message(Role::Developer, text)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InputContent {
    InputText {
        text: String,
    },
    /// Assistant messages in the history carry `output_text` parts.
    OutputText {
        text: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reasoning {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
}

/// A function tool in the flat Responses shape. `strict` is always sent: when omitted
/// the server normalises the schema to strict mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "function")]
pub struct Tool {
    pub name: String,
    pub description: String,
    pub parameters: serde_json::Value,
    pub strict: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoice {
    Auto,
    None,
    Required,
}

/// The Response object (non-streaming body, or the payload of terminal stream events).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseObject {
    #[serde(default, deserialize_with = "null_default")]
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub output: Vec<OutputItem>,
    #[serde(default)]
    pub usage: Option<Usage>,
    #[serde(default)]
    pub incomplete_details: Option<IncompleteDetails>,
    #[serde(default)]
    pub error: Option<ResponseError>,
}

impl ResponseObject {
    /// All `output_text` parts of all message items, concatenated in order.
    pub fn output_text(&self) -> String {
        let mut s = String::new();
        for item in &self.output {
            if let OutputItem::Message { content, .. } = item {
                for part in content {
                    if let ContentPart::OutputText { text } = part {
                        s.push_str(text);
                    }
                }
            }
        }
        s
    }

    /// `(call_id, name)` of every function call, in output order: the calls a request
    /// chained to this response must answer with `function_call_output` items.
    pub fn call_ids(&self) -> Vec<(&str, &str)> {
        self.output
            .iter()
            .filter_map(|item| match item {
                OutputItem::FunctionCall { call_id, name, .. } => {
                    Some((call_id.as_str(), name.as_str()))
                }
                _ => None,
            })
            .collect()
    }

    /// The output as input items for a stateless replay: reasoning (with its encrypted
    /// content), assistant messages (with their `phase`) and function calls, without the
    /// server's item ids, which a `store: false` request must not send.
    pub fn replay_items(&self) -> Vec<InputItem> {
        self.output
            .iter()
            .filter_map(|item| match item {
                OutputItem::Message { content, phase, .. } => {
                    let content: Vec<InputContent> = content
                        .iter()
                        .filter_map(|p| match p {
                            ContentPart::OutputText { text } => {
                                Some(InputContent::OutputText { text: text.clone() })
                            }
                            _ => None,
                        })
                        .collect();
                    (!content.is_empty()).then(|| InputItem::Message {
                        role: Role::Assistant,
                        content,
                        phase: phase.clone(),
                    })
                }
                OutputItem::FunctionCall {
                    call_id,
                    name,
                    arguments,
                    ..
                } => Some(InputItem::FunctionCall {
                    call_id: call_id.clone(),
                    name: name.clone(),
                    arguments: arguments.clone(),
                }),
                OutputItem::Reasoning {
                    summary,
                    encrypted_content,
                    ..
                } => encrypted_content.as_ref().map(|e| InputItem::Reasoning {
                    summary: summary.clone(),
                    encrypted_content: Some(e.clone()),
                }),
                OutputItem::Other => None,
            })
            .collect()
    }

    /// `(name, arguments)` of every function call, in output order.
    pub fn function_calls(&self) -> Vec<(&str, &str)> {
        self.output
            .iter()
            .filter_map(|item| match item {
                OutputItem::FunctionCall {
                    name, arguments, ..
                } => Some((name.as_str(), arguments.as_str())),
                _ => None,
            })
            .collect()
    }
}

/// Output items, tagged by `type`; reasoning, web search and future types land in `Other`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputItem {
    Message {
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        role: Option<String>,
        #[serde(default, deserialize_with = "null_default")]
        content: Vec<ContentPart>,
        /// gpt-5.3-codex wants it resent on assistant messages.
        #[serde(default)]
        phase: Option<String>,
    },
    FunctionCall {
        #[serde(default)]
        id: Option<String>,
        #[serde(default, deserialize_with = "null_default")]
        call_id: String,
        #[serde(default, deserialize_with = "null_default")]
        name: String,
        /// A JSON document as a string, exactly as the model wrote it.
        #[serde(default, deserialize_with = "null_default")]
        arguments: String,
        #[serde(default)]
        status: Option<String>,
    },
    Reasoning {
        #[serde(default)]
        id: Option<String>,
        #[serde(default, deserialize_with = "null_default")]
        summary: Vec<serde_json::Value>,
        #[serde(default)]
        encrypted_content: Option<String>,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    OutputText {
        #[serde(default, deserialize_with = "null_default")]
        text: String,
    },
    Refusal {
        #[serde(default, deserialize_with = "null_default")]
        refusal: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncompleteDetails {
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub message: String,
}

/// `null` where a value is expected is read as the default (gateways send both).
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn minimal_request_skips_unset_fields() {
        let r = CreateResponse::new("m", "hi");
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"model":"m","input":"hi","stream":false})
        );
    }

    #[test]
    fn full_request_shape() {
        let mut r = CreateResponse::new("m", vec![InputItem::user_text("x")]);
        r.tools.push(Tool {
            name: "replace_selection".into(),
            description: "d".into(),
            parameters: json!({"type":"object"}),
            strict: false,
        });
        r.tool_choice = Some(ToolChoice::Auto);
        r.reasoning = Some(Reasoning {
            effort: Some("low".into()),
        });
        r.temperature = Some(0.5);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v["input"],
            json!([{"type":"message","role":"user","content":[{"type":"input_text","text":"x"}]}])
        );
        assert_eq!(
            v["tools"],
            json!([{"type":"function","name":"replace_selection","description":"d",
                    "parameters":{"type":"object"},"strict":false}])
        );
        assert_eq!(v["tool_choice"], "auto");
        assert_eq!(v["reasoning"], json!({"effort":"low"}));
        assert_eq!(v["temperature"], 0.5);
        assert!(v.get("top_p").is_none());
    }

    #[test]
    fn response_tolerates_unknowns() {
        let v = json!({
            "id":"resp_1","object":"response","status":"completed","new_field":{"x":1},
            "output":[
                {"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"gAAA"},
                {"type":"message","id":"msg_1","role":"assistant","status":"completed",
                 "content":[{"type":"output_text","text":"Hello ","annotations":[]},
                            {"type":"refusal","refusal":"no"},
                            {"type":"brand_new","x":1},
                            {"type":"output_text","text":"world"}]},
                {"type":"function_call","id":"fc_1","call_id":"call_1","name":"f","arguments":"{}"},
                {"type":"web_search_call","id":"ws"}
            ],
            "usage":{"input_tokens":3,"output_tokens":4,"total_tokens":7,
                     "output_tokens_details":{"reasoning_tokens":1}},
            "error":null,"incomplete_details":null
        });
        let r: ResponseObject = serde_json::from_value(v).unwrap();
        assert_eq!(r.output_text(), "Hello world");
        assert_eq!(r.function_calls(), vec![("f", "{}")]);
        assert_eq!(r.usage.unwrap().total_tokens, 7);
        assert_eq!(r.output.len(), 4);
    }
}
