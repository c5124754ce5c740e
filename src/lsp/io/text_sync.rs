//! Text sync parsed once, at the edge. A `didOpen` carries a whole file and editors
//! send a `didChange` per keystroke; through the framework each is parsed three times
//! (the guard's check, the framework's buffered decode of an untagged message, the
//! handler's typed parameters) and a large file's text copied at each step, the
//! framework's read buffer growing to the largest message and keeping that size.
//!
//! So a plain `didOpen`/`didChange` notification is parsed here, straight from the
//! frame into its typed parameters, kept in [`Parsed`], and the framework is passed a
//! small notification naming it (method: a per-process marker, params: its number).
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

/// The sync notification `body` holds, or `None` to pass it on as it is.
pub fn parse(body: &[u8]) -> Option<TextSync> {
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
    queue: Mutex<VecDeque<(u64, TextSync)>>,
    next: Mutex<u64>,
}

impl Parsed {
    /// Keeps `sync`; returns the number the dispatcher will ask for it by.
    pub fn put(&self, sync: TextSync) -> u64 {
        let mut next = crate::sync::lock(&self.next);
        *next += 1;
        crate::sync::lock(&self.queue).push_back((*next, sync));
        *next
    }

    /// The notification numbered `seq`. Older ones still queued are dropped: their
    /// carrier never arrived, which nothing should cause.
    pub fn take(&self, seq: u64) -> Option<TextSync> {
        let mut queue = crate::sync::lock(&self.queue);
        while let Some((n, _)) = queue.front() {
            if *n > seq {
                return None;
            }
            let (n, sync) = queue.pop_front()?;
            if n == seq {
                return Some(sync);
            }
            tracing::error!(seq = n, "a parsed text sync message was never dispatched");
        }
        None
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
    fn taken_in_order_by_number() {
        let parsed = Parsed::default();
        let sync = || {
            parse(br#"{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"file:///a.rs","version":2},"contentChanges":[{"text":"x"}]}}"#).unwrap()
        };
        let (a, b, c) = (parsed.put(sync()), parsed.put(sync()), parsed.put(sync()));
        assert!(a < b && b < c);
        assert!(parsed.take(a).is_some());
        assert!(parsed.take(a).is_none(), "taken once");
        // b's carrier lost: c is still found, b dropped
        assert!(parsed.take(c).is_some());
        assert!(parsed.take(b).is_none());
    }
}
