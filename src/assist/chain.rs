//! One file's conversation from turn to turn: what a request continuing the chain
//! must carry, and what a completed turn leaves behind as the chain's new head.
//!
//! The real Responses API refuses to continue a chain whose head ended in function
//! calls unless the new request answers each call with a `function_call_output`
//! (`400 "No tool output found for function call <id>."`), and refuses an output for a
//! call it never saw. So the head keeps its call ids (and the output each gets), and a
//! request without a chain carries none.
//!
//! In replay mode (`chainMode: "replay"`) nothing is stored by the service
//! (`store: false`): the request carries the file's recent turns itself — the user
//! messages as sent (redacted), the model's reasoning (encrypted), messages and calls,
//! and the outputs answering those calls — bounded by [`REPLAY_BUDGET_TOKENS`].

use serde_json::Value;

use crate::openai::{CreateResponse, Input, InputItem, ResponseObject};
use crate::settings::ChainMode;
use crate::store::chains::{ChainEntry, Head, PendingCall};

use super::answer::{APPLY_PATCH, REPLACE_SELECTION};

/// Replayed history is kept under about this many tokens (estimated as characters of
/// JSON / 4): older turns are dropped first; the newest turn is always kept, since the
/// next request answers its calls.
pub const REPLAY_BUDGET_TOKENS: usize = 32_000;

/// What continuing a file's chain adds to a request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Continuation {
    /// `previous_response_id` (server mode only).
    pub previous_response_id: Option<String>,
    /// Replay mode: the earlier turns, oldest first.
    pub history: Vec<InputItem>,
    /// One `function_call_output` per function call of the head response.
    pub answers: Vec<InputItem>,
}

impl Continuation {
    /// The request's `input`: history, answers, then this turn's user message.
    pub fn input(&self, user: InputItem) -> Vec<InputItem> {
        let mut items = Vec::with_capacity(self.history.len() + self.answers.len() + 1);
        items.extend(self.history.iter().cloned());
        items.extend(self.answers.iter().cloned());
        items.push(user);
        items
    }
}

/// How the chain continues from `head` (none when the file has no chain).
pub fn continuation(head: Option<&ChainEntry>, mode: ChainMode) -> Continuation {
    let Some(head) = head else {
        return Continuation::default();
    };
    let answers = head
        .pending_calls
        .iter()
        .map(|c| InputItem::FunctionCallOutput {
            call_id: c.call_id.clone(),
            output: c.output.clone(),
        })
        .collect();
    match mode {
        ChainMode::Server => Continuation {
            previous_response_id: Some(head.response_id.clone()),
            history: Vec::new(),
            answers,
        },
        ChainMode::Replay => {
            let history: Vec<InputItem> = head
                .replay
                .iter()
                .flatten()
                .filter_map(|v| serde_json::from_value(v.clone()).ok())
                .collect();
            // outputs only for calls the replayed history holds (a chain written in
            // server mode has none), or the service finds an output without its call
            let made: Vec<&str> = history
                .iter()
                .filter_map(|i| match i {
                    InputItem::FunctionCall { call_id, .. } => Some(call_id.as_str()),
                    _ => None,
                })
                .collect();
            let answers = answers_for(answers, &made);
            Continuation {
                previous_response_id: None,
                history,
                answers,
            }
        }
    }
}

fn answers_for(answers: Vec<InputItem>, made: &[&str]) -> Vec<InputItem> {
    answers
        .into_iter()
        .filter(|a| match a {
            InputItem::FunctionCallOutput { call_id, .. } => made.contains(&call_id.as_str()),
            _ => false,
        })
        .collect()
}

/// Whether `req` continues a chain (a previous response, or replayed turns).
pub fn is_chained(req: &CreateResponse) -> bool {
    req.previous_response_id.is_some()
        || matches!(&req.input, Input::Items(items) if items.len() > 1)
}

/// `req` as the first turn of a new chain: no previous response, and of its input only
/// this turn's user message (the last item), so no output answers a call the service
/// no longer knows.
pub fn without_chain(req: &mut CreateResponse) {
    req.previous_response_id = None;
    if let Input::Items(items) = &mut req.input
        && let Some(user) = items.pop()
    {
        *items = vec![user];
    }
}

/// What the next request tells the model about one of this turn's calls. The head
/// moves only when the turn's edit was applied (`edited`) or, for a question, when the
/// answer was shown: a call in an answer to a question changed nothing.
pub fn call_output(name: &str, edited: bool) -> String {
    match (name, edited) {
        (REPLACE_SELECTION, true) => {
            "Applied: the editor replaced the selection with this code.".to_owned()
        }
        (APPLY_PATCH, true) => "Applied: the patch was applied to the selection.".to_owned(),
        (REPLACE_SELECTION | APPLY_PATCH, false) => {
            "Not applied: this was a question, so the answer was shown and nothing was \
             changed."
                .to_owned()
        }
        _ => format!("Not run: `{name}` is not a tool this editor offers; nothing was changed."),
    }
}

/// The output a refused `apply_patch` call gets in the corrective turn.
pub fn patch_refusal_output(reason: &str) -> String {
    format!("apply_patch verification failed: {reason}")
}

/// The user message of the corrective turn.
pub const RETRY_PATCH: &str = "Your patch did not apply, so nothing was changed: the \
selection is still exactly as sent. Try once more: call `apply_patch` with a corrected \
patch (copy the context and removed lines exactly from the selection), or \
`replace_selection` with the whole replacement.";

/// One more turn in the same action after `failed` answered `sent` with a patch that
/// did not apply: `failed`'s calls are answered (its `apply_patch` call with
/// `refusal`, any other with "not run"), then [`RETRY_PATCH`]. In server mode the
/// request continues from `failed` (`previous_response_id`); in replay mode it carries
/// `sent`'s input, `failed`'s items and the answers itself. Returns the request and
/// what it adds to the conversation after `sent` (kept for replay).
pub fn corrective(
    sent: &CreateResponse,
    failed: &ResponseObject,
    refusal: &str,
    mode: ChainMode,
) -> (CreateResponse, Vec<InputItem>) {
    let mut added: Vec<InputItem> = match mode {
        ChainMode::Server => Vec::new(),
        ChainMode::Replay => failed.replay_items(),
    };
    added.extend(
        failed
            .call_ids()
            .into_iter()
            .filter(|(id, _)| !id.is_empty())
            .map(|(call_id, name)| InputItem::FunctionCallOutput {
                call_id: call_id.to_owned(),
                output: if name == APPLY_PATCH {
                    patch_refusal_output(refusal)
                } else {
                    "Not run: only one call counts; nothing was changed.".to_owned()
                },
            }),
    );
    added.push(InputItem::user_text(RETRY_PATCH));
    let mut req = sent.clone();
    req.input = match mode {
        ChainMode::Server => {
            req.previous_response_id = Some(failed.id.clone());
            Input::Items(added.clone())
        }
        ChainMode::Replay => {
            let mut items = match &sent.input {
                Input::Items(items) => items.clone(),
                Input::Text(t) => vec![InputItem::user_text(t.clone())],
            };
            items.extend(added.iter().cloned());
            Input::Items(items)
        }
    };
    let kept = match mode {
        // the service keeps the failed turn; nothing to replay
        ChainMode::Server => Vec::new(),
        ChainMode::Replay => added,
    };
    (req, kept)
}

/// The new head after `response` completed a turn whose edit was applied (`edited`),
/// or whose answer was shown. `sent` is what this turn added to the conversation: its
/// answers to the previous head's calls and its user message (replay mode keeps them).
pub fn next_head(
    previous: Option<&ChainEntry>,
    mode: ChainMode,
    response: &ResponseObject,
    sent: Vec<InputItem>,
    edited: bool,
) -> Head {
    let pending_calls = response
        .call_ids()
        .into_iter()
        .filter(|(id, _)| !id.is_empty())
        .map(|(call_id, name)| PendingCall {
            call_id: call_id.to_owned(),
            output: call_output(name, edited),
        })
        .collect();
    let replay = match mode {
        ChainMode::Server => Vec::new(),
        ChainMode::Replay => {
            let mut turns = previous.map(|p| p.replay.clone()).unwrap_or_default();
            let turn: Vec<Value> = sent
                .into_iter()
                .chain(response.replay_items())
                .filter_map(|i| serde_json::to_value(i).ok())
                .collect();
            turns.push(turn);
            trim_to_budget(&mut turns, REPLAY_BUDGET_TOKENS);
            turns
        }
    };
    Head {
        response_id: response.id.clone(),
        pending_calls,
        replay,
    }
}

/// Estimated tokens of replayed items: characters of their JSON / 4.
pub fn estimated_tokens(items: &[Value]) -> usize {
    items.iter().map(|v| v.to_string().len()).sum::<usize>() / 4
}

/// Drops the oldest turns until the history fits `budget` (the newest turn always
/// stays). The new oldest turn then loses its answers to calls of the dropped turn.
fn trim_to_budget(turns: &mut Vec<Vec<Value>>, budget: usize) {
    let mut dropped = false;
    while turns.len() > 1 && estimated_tokens(&turns.concat()) > budget {
        turns.remove(0);
        dropped = true;
    }
    if dropped && let Some(first) = turns.first_mut() {
        first.retain(|v| v.get("type").and_then(Value::as_str) != Some("function_call_output"));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn response(id: &str, call: Option<&str>) -> ResponseObject {
        let mut output = vec![json!({"type": "reasoning", "id": "rs_1", "summary": [],
                                      "encrypted_content": "gAAAA"})];
        if let Some(c) = call {
            output.push(json!({"type": "function_call", "id": "fc_1", "call_id": c,
                               "name": "replace_selection", "arguments": "{\"code\":\"x\"}"}));
        }
        serde_json::from_value(json!({"id": id, "status": "completed", "output": output})).unwrap()
    }

    fn entry(head: Head) -> ChainEntry {
        ChainEntry {
            response_id: head.response_id,
            turns: 1,
            updated_unix: 0,
            pending_calls: head.pending_calls,
            replay: head.replay,
        }
    }

    #[test]
    fn no_chain_no_previous_id_no_outputs() {
        for mode in [ChainMode::Server, ChainMode::Replay] {
            assert_eq!(continuation(None, mode), Continuation::default());
        }
    }

    #[test]
    fn server_mode_answers_every_call_of_the_head() {
        let head = next_head(
            None,
            ChainMode::Server,
            &response("resp_1", Some("call_1")),
            vec![InputItem::user_text("u1")],
            true,
        );
        assert!(head.replay.is_empty());
        let c = continuation(Some(&entry(head)), ChainMode::Server);
        assert_eq!(c.previous_response_id.as_deref(), Some("resp_1"));
        let v = serde_json::to_value(c.input(InputItem::user_text("u2"))).unwrap();
        assert_eq!(v[0]["type"], "function_call_output");
        assert_eq!(v[0]["call_id"], "call_1");
        assert!(v[0]["output"].as_str().unwrap().starts_with("Applied"));
        assert_eq!(v[1]["role"], "user");
    }

    #[test]
    fn without_chain_keeps_only_the_user_message() {
        let c = Continuation {
            previous_response_id: Some("resp_1".into()),
            history: vec![],
            answers: vec![InputItem::FunctionCallOutput {
                call_id: "call_1".into(),
                output: "ok".into(),
            }],
        };
        let mut req = CreateResponse::new("m", c.input(InputItem::user_text("u")));
        req.previous_response_id = c.previous_response_id.clone();
        assert!(is_chained(&req));
        without_chain(&mut req);
        assert!(!is_chained(&req));
        assert_eq!(req.input, Input::Items(vec![InputItem::user_text("u")]));
    }

    #[test]
    fn a_call_in_an_answer_to_a_question_is_answered_as_not_applied() {
        let head = next_head(
            None,
            ChainMode::Server,
            &response("resp_1", Some("call_1")),
            vec![],
            false,
        );
        assert!(head.pending_calls[0].output.starts_with("Not applied"));
    }

    #[test]
    fn an_explanation_head_owes_nothing() {
        let head = next_head(
            None,
            ChainMode::Server,
            &response("resp_1", None),
            vec![],
            true,
        );
        let c = continuation(Some(&entry(head)), ChainMode::Server);
        assert!(c.answers.is_empty());
    }

    #[test]
    fn replay_mode_carries_turns_without_ids_and_answers_the_last_calls() {
        let h1 = next_head(
            None,
            ChainMode::Replay,
            &response("resp_1", Some("call_1")),
            vec![InputItem::user_text("u1")],
            true,
        );
        let c2 = continuation(Some(&entry(h1.clone())), ChainMode::Replay);
        assert_eq!(c2.previous_response_id, None);
        let sent2 = [c2.answers.clone(), vec![InputItem::user_text("u2")]].concat();
        let h2 = next_head(
            Some(&entry(h1)),
            ChainMode::Replay,
            &response("resp_2", Some("call_2")),
            sent2,
            true,
        );
        let c3 = continuation(Some(&entry(h2)), ChainMode::Replay);
        let v = serde_json::to_value(c3.input(InputItem::user_text("u3"))).unwrap();
        let types: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "message",
                "reasoning",
                "function_call",
                "function_call_output",
                "message",
                "reasoning",
                "function_call",
                "function_call_output",
                "message"
            ]
        );
        assert!(!v.to_string().contains("rs_1") && !v.to_string().contains("fc_1"));
        assert_eq!(v[3]["call_id"], "call_1");
        assert_eq!(v[7]["call_id"], "call_2");
        assert_eq!(v[1]["encrypted_content"], "gAAAA");
    }

    #[test]
    fn replay_history_is_bounded_and_never_starts_with_an_orphan_output() {
        let big = "x".repeat(REPLAY_BUDGET_TOKENS * 2);
        let mut head: Option<ChainEntry> = None;
        for n in 0..4 {
            let c = continuation(head.as_ref(), ChainMode::Replay);
            let sent = [c.answers.clone(), vec![InputItem::user_text(big.clone())]].concat();
            let id = format!("call_{n}");
            let h = next_head(
                head.as_ref(),
                ChainMode::Replay,
                &response(&format!("resp_{n}"), Some(&id)),
                sent,
                true,
            );
            head = Some(entry(h));
        }
        let head = head.unwrap();
        assert_eq!(head.replay.len(), 1, "only the newest turn fits");
        assert_eq!(head.replay[0][0]["type"], "message");
        let c = continuation(Some(&head), ChainMode::Replay);
        assert_eq!(
            c.answers.len(),
            1,
            "the newest turn's call is still answered"
        );
    }

    fn patch_response(id: &str, call: &str) -> ResponseObject {
        serde_json::from_value(json!({"id": id, "status": "completed", "output": [
            {"type": "reasoning", "id": "rs_p", "summary": [], "encrypted_content": "gAAAA"},
            {"type": "function_call", "id": "fc_p", "call_id": call, "name": "apply_patch",
             "arguments": "{\"patch\":\"x\"}"}]}))
        .unwrap()
    }

    #[test]
    fn an_applied_patch_is_answered_as_applied() {
        let head = next_head(
            None,
            ChainMode::Server,
            &patch_response("resp_p", "call_p"),
            vec![],
            true,
        );
        assert_eq!(
            head.pending_calls[0].output,
            "Applied: the patch was applied to the selection."
        );
    }

    #[test]
    fn the_corrective_turn_answers_the_failed_call_with_the_refusal() {
        let first = CreateResponse::new(
            "m",
            vec![
                InputItem::FunctionCallOutput {
                    call_id: "call_0".into(),
                    output: "Applied".into(),
                },
                InputItem::user_text("u1"),
            ],
        );
        let failed = patch_response("resp_f", "call_f");
        let reason = "hunk 1 (@@ def f(x):) matches nowhere in the selection";

        let (req, kept) = corrective(&first, &failed, reason, ChainMode::Server);
        assert_eq!(req.previous_response_id.as_deref(), Some("resp_f"));
        assert!(kept.is_empty());
        let v = serde_json::to_value(&req.input).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 2, "{v}");
        assert_eq!(v[0]["type"], "function_call_output");
        assert_eq!(v[0]["call_id"], "call_f");
        assert_eq!(
            v[0]["output"],
            format!("apply_patch verification failed: {reason}")
        );
        assert_eq!(v[1]["role"], "user");
        assert!(v[1].to_string().contains("did not apply"));

        let mut replay_first = first.clone();
        replay_first.store = Some(false);
        let (req, kept) = corrective(&replay_first, &failed, reason, ChainMode::Replay);
        assert_eq!(req.previous_response_id, None);
        assert_eq!(req.store, Some(false));
        let v = serde_json::to_value(&req.input).unwrap();
        let types: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "function_call_output",
                "message",
                "reasoning",
                "function_call",
                "function_call_output",
                "message"
            ]
        );
        assert_eq!(v[3]["call_id"], "call_f");
        assert_eq!(v[4]["call_id"], "call_f");
        assert_eq!(kept.len(), 4, "the failed turn is replayed next time too");
    }

    #[test]
    fn a_server_mode_head_in_replay_mode_sends_no_orphan_outputs() {
        let head = next_head(
            None,
            ChainMode::Server,
            &response("resp_1", Some("call_1")),
            vec![],
            true,
        );
        let c = continuation(Some(&entry(head)), ChainMode::Replay);
        assert!(c.answers.is_empty() && c.history.is_empty());
    }
}
