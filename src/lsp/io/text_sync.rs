//! Text sync parsed once, at the edge. A `didOpen` carries a whole file and editors
//! send a `didChange` per keystroke; through the framework each is parsed three times
//! (the guard's check, the framework's buffered decode of an untagged message, the
//! handler's typed parameters) and a large file's text copied at each step, the
//! framework's read buffer growing to the largest message and keeping that size.
//!
//! So a plain `didOpen`/`didChange` notification is parsed here, straight from the
//! frame into its typed parameters, kept in [`Parsed`], and the framework is passed a
//! small notification standing for them (method: a per-process marker, params: the
//! number of the last one; consecutive ones share a stand-in).
//! [`super::super::dispatch::Dispatch`] takes it back in wire order. Anything else, a
//! sync message with an extra member, an escaped method name, or parameters that do
//! not parse included, takes the ordinary path, which reports what is wrong with it.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Deserialize;
use serde_json::value::RawValue;
use tower_lsp_server::ls_types::{DidChangeTextDocumentParams, DidOpenTextDocumentParams};

/// One parsed sync notification.
#[derive(Debug)]
pub enum TextSync {
    Open(DidOpenTextDocumentParams),
    Change(DidChangeTextDocumentParams),
}

/// A notification as LSP sends it: exactly these members, no `id`. Borrowed strings
/// fail on escapes, which sends the message the ordinary way.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Notification<'a> {
    jsonrpc: &'a str,
    method: &'a str,
    #[serde(borrow)]
    params: &'a RawValue,
}

/// A `didChange` read in one pass, parameters typed at once.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeNotification<'a> {
    jsonrpc: &'a str,
    method: &'a str,
    params: DidChangeTextDocumentParams,
}

/// How far into a body its method name is looked for, to read a `didChange` in one
/// pass (editors write `method` before `params`; elsewhere it takes two).
const METHOD_WITHIN: usize = 128;

/// The sync notification `body` holds, or `None` to pass it on as it is.
pub fn parse(body: &[u8]) -> Option<TextSync> {
    let head = &body[..body.len().min(METHOD_WITHIN)];
    let change: &[u8] = b"\"textDocument/didChange\"";
    if head.windows(change.len()).any(|w| w == change)
        && let Ok(note) = serde_json::from_slice::<ChangeNotification<'_>>(body)
    {
        return (note.jsonrpc == "2.0" && note.method == "textDocument/didChange")
            .then_some(TextSync::Change(note.params));
    }
    let note: Notification<'_> = serde_json::from_slice(body).ok()?;
    if note.jsonrpc != "2.0" {
        return None;
    }
    let params = note.params.get();
    match note.method {
        "textDocument/didOpen" => serde_json::from_str(params).ok().map(TextSync::Open),
        "textDocument/didChange" => serde_json::from_str(params).ok().map(TextSync::Change),
        _ => None,
    }
}

/// Parsed sync notifications between the guard, which numbers them in wire order,
/// and the dispatcher, which takes them in the same order.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The last number given, and what is not yet taken.
    state: Mutex<(u64, VecDeque<(u64, TextSync)>)>,
}

impl Parsed {
    /// Keeps `sync`; returns the number the dispatcher will ask for it by.
    pub fn put(&self, sync: TextSync) -> u64 {
        let mut state = crate::sync::lock(&self.state);
        state.0 += 1;
        let n = state.0;
        state.1.push_back((n, sync));
        n
    }

    /// The notifications numbered up to `through`, in order, taken out.
    pub fn take_through(&self, through: u64) -> Vec<TextSync> {
        let queue = &mut crate::sync::lock(&self.state).1;
        let n = queue.iter().take_while(|(seq, _)| *seq <= through).count();
        queue.drain(..n).map(|(_, sync)| sync).collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn plain_sync_notifications_are_parsed_everything_else_is_not() {
        let open = br#"{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///a.rs","languageId":"rust","version":1,"text":"fn a() {}\n\u00e9"}}}"#;
        let Some(TextSync::Open(p)) = parse(open) else {
            panic!("didOpen parsed")
        };
        assert_eq!(p.text_document.text, "fn a() {}\né");
        let change = br#"{"params":{"textDocument":{"uri":"file:///a.rs","version":2},"contentChanges":[{"range":{"start":{"line":0,"character":1},"end":{"line":0,"character":1}},"text":"x"}]},"method":"textDocument/didChange","jsonrpc":"2.0"}"#;
        assert!(matches!(parse(change), Some(TextSync::Change(_))));
        for other in [
            // a request, however named
            &br#"{"jsonrpc":"2.0","id":1,"method":"textDocument/didChange","params":{}}"#[..],
            br#"{"jsonrpc":"1.0","method":"textDocument/didOpen","params":{}}"#,
            br#"{"jsonrpc":"2.0","method":"textDocument/didClose","params":{"textDocument":{"uri":"file:///a.rs"}}}"#,
            // parameters the handler must report on
            br#"{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"file:///a.rs","version":2},"contentChanges":[{"range":{"start":{"line":0,"character":0},"end":{"line":0,"character":0}},"rangeLength":-1,"text":"x"}]}}"#,
            br#"{"jsonrpc":"2.0","method":"textDocument/did\u004fpen","params":{}}"#,
            br#"{"jsonrpc":"2.0","method":"textDocument/didOpen","method":"x","params":{}}"#,
            b"not json",
        ] {
            assert!(parse(other).is_none(), "{}", String::from_utf8_lossy(other));
        }
    }

    #[test]
    fn taken_in_order_up_to_a_number() {
        let parsed = Parsed::default();
        let sync = |v: i32| {
            let body = format!(
                r#"{{"jsonrpc":"2.0","method":"textDocument/didChange","params":{{"textDocument":{{"uri":"file:///a.rs","version":{v}}},"contentChanges":[{{"text":"x"}}]}}}}"#
            );
            parse(body.as_bytes()).unwrap()
        };
        let version = |s: &TextSync| match s {
            TextSync::Change(p) => p.text_document.version,
            TextSync::Open(_) => -1,
        };
        let (_, b, c) = (
            parsed.put(sync(1)),
            parsed.put(sync(2)),
            parsed.put(sync(3)),
        );
        assert!(b < c);
        let first: Vec<i32> = parsed.take_through(b).iter().map(version).collect();
        assert_eq!(first, [1, 2]);
        assert!(parsed.take_through(b).is_empty(), "taken once");
        let rest: Vec<i32> = parsed.take_through(c).iter().map(version).collect();
        assert_eq!(rest, [3]);
    }
}
