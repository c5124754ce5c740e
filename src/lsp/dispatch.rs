//! A tower layer in front of `LspService`. The framework runs handlers concurrently
//! (tower-lsp #284), but it calls `Service::call` for every message synchronously, in
//! wire order. So text sync is applied here, inside `call`, before any later request's
//! handler can start; cancellation is acted on here too, so it works even when every
//! handler slot is busy; and `workspace/executeCommand` is run here, where the request
//! id is known, so a job can be registered under it.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::{self, BoxFuture, FutureExt};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tower::Service;
use tower_lsp_server::jsonrpc::{Error, Id, Request, Response};
use tower_lsp_server::ls_types::{
    DidChangeTextDocumentParams, DidCloseTextDocumentParams, DidOpenTextDocumentParams,
    ExecuteCommandParams, MessageType, ProgressToken,
};
use tower_lsp_server::{Client, ExitedError};

use super::commands::{ASK, EXPLAIN, RUN_ACTION};
use super::execute;
use super::from_proto;
use super::io::text_sync::{Parsed, TextSync};
use super::progress;
use super::run_action::Arrival;
use super::session::Session;
use crate::assist::exclude::IGNORE_FILE;
use crate::document::SyncError;

type Fut = BoxFuture<'static, Result<Option<Response>, ExitedError>>;

pub struct Dispatch<S> {
    inner: S,
    session: Arc<Session>,
    client: Client,
    /// The method of the notifications standing for text sync the frame guard parsed,
    /// and where it keeps them (see [`super::io::text_sync`]).
    text_sync: Option<(Arc<str>, Arc<Parsed>)>,
}

impl<S> Dispatch<S> {
    pub fn new(inner: S, session: Arc<Session>, client: Client) -> Self {
        Self {
            inner,
            session,
            client,
            text_sync: None,
        }
    }

    /// Applies the text sync the frame guard parsed, when its stand-in arrives.
    pub fn take_text_sync(mut self, marker: Arc<str>, parsed: Arc<Parsed>) -> Self {
        self.text_sync = Some((marker, parsed));
        self
    }

    /// The parsed sync messages `req` stands for, if it is such a stand-in.
    fn parsed_sync(&self, req: &Request) -> Option<Vec<TextSync>> {
        let (marker, parsed) = self.text_sync.as_ref()?;
        if req.method() != &**marker {
            return None;
        }
        let through = req
            .params()
            .and_then(|p| p.get("through"))
            .and_then(Value::as_u64);
        Some(through.map(|n| parsed.take_through(n)).unwrap_or_default())
    }
}

/// The JSON rendering of a request id, the key jobs are registered under.
pub fn id_key(id: &Id) -> String {
    serde_json::to_string(id).unwrap_or_default()
}

fn params<T: DeserializeOwned>(req: &Request) -> Result<T, String> {
    serde_json::from_value(req.params().cloned().unwrap_or(Value::Null)).map_err(|e| e.to_string())
}

impl<S> Service<Request> for Dispatch<S>
where
    S: Service<Request, Response = Option<Response>, Error = ExitedError, Future = Fut>,
{
    type Response = Option<Response>;
    type Error = ExitedError;
    type Future = Fut;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if let Some(syncs) = self.parsed_sync(&req) {
            for sync in syncs {
                self.apply_parsed(sync);
            }
            return future::ready(Ok(None)).boxed();
        }
        match req.method() {
            "textDocument/didOpen" | "textDocument/didChange" | "textDocument/didClose" => {
                self.text_sync(&req);
                future::ready(Ok(None)).boxed()
            }
            "$/cancelRequest" => {
                if let Some(id) = req.params().and_then(|p| p.get("id")) {
                    let key = serde_json::to_string(id).unwrap_or_default();
                    if self.session.jobs.cancel_request(&key) {
                        tracing::debug!(id = %key, "cancelled job");
                    }
                }
                self.inner.call(req)
            }
            "window/workDoneProgress/cancel" => {
                let token = req
                    .params()
                    .and_then(|p| p.get("token"))
                    .and_then(|t| serde_json::from_value::<ProgressToken>(t.clone()).ok());
                if let Some(tok) = token {
                    let key = progress::token_key(&tok);
                    if self.session.jobs.cancel_progress(&key) {
                        tracing::debug!(token = %key, "cancelled job from its progress");
                    }
                }
                future::ready(Ok(None)).boxed()
            }
            "workspace/didChangeWatchedFiles" => {
                self.watched_files(&req);
                future::ready(Ok(None)).boxed()
            }
            "workspace/executeCommand" if req.id().is_some() => self.execute_command(req),
            "shutdown" => {
                self.session.request_shutdown();
                self.inner.call(req)
            }
            "exit" => {
                self.session.jobs.cancel_all();
                self.inner.call(req)
            }
            _ => self.inner.call(req),
        }
    }
}

impl<S> Dispatch<S> {
    /// Handled here, in wire order, so that the next request is judged by the new
    /// rules. The server registers a watcher for `**/.codexignore` where the client
    /// allows it; a client that sends these unasked is trusted to keep sending them.
    fn watched_files(&self, req: &Request) {
        if !self.session.is_initialized() {
            return;
        }
        self.session.set_watching();
        let changes = req
            .params()
            .and_then(|p| p.get("changes"))
            .and_then(Value::as_array);
        let ignore_file_changed = changes.is_none_or(|changes| {
            changes.iter().any(|c| {
                // the last path segment, percent-encoded or not
                c.get("uri").and_then(Value::as_str).is_none_or(|uri| {
                    let uri = uri.split(['?', '#']).next().unwrap_or(uri);
                    let name = uri.rsplit('/').next().unwrap_or(uri);
                    name == IGNORE_FILE || name.eq_ignore_ascii_case("%2Ecodexignore")
                })
            })
        });
        if ignore_file_changed {
            self.session.invalidate_targets("a .codexignore changed");
        }
    }

    fn text_sync(&self, req: &Request) {
        if !self.session.is_initialized() {
            tracing::warn!(
                method = req.method(),
                "text sync before initialize: ignored"
            );
            return;
        }
        let docs = &self.session.docs;
        let result: Result<(), String> = match req.method() {
            "textDocument/didOpen" => {
                params::<DidOpenTextDocumentParams>(req).map(|p| self.did_open(p))
            }
            "textDocument/didChange" => self.did_change(req),
            _ => params::<DidCloseTextDocumentParams>(req).and_then(|p| {
                let uri = p.text_document.uri.as_str();
                docs.close(uri).map_err(|e| e.to_string())
            }),
        };
        if let Err(e) = result {
            tracing::warn!(method = req.method(), "text sync: {e}");
        }
    }

    /// Text sync the frame guard parsed: what [`Dispatch::text_sync`] does with it.
    fn apply_parsed(&self, sync: TextSync) {
        if !self.session.is_initialized() {
            tracing::warn!("text sync before initialize: ignored");
            return;
        }
        match sync {
            TextSync::Open(p) => self.did_open(p),
            TextSync::Change(p) => {
                if let Err(e) = self.apply_change(p) {
                    tracing::warn!(method = "textDocument/didChange", "text sync: {e}");
                }
            }
        }
    }

    fn did_open(&self, p: DidOpenTextDocumentParams) {
        let d = p.text_document;
        tracing::debug!(uri = d.uri.as_str(), version = d.version, "didOpen");
        self.session
            .docs
            .open(d.uri.as_str(), &d.text, d.version, &d.language_id);
    }

    /// Applies one `didChange`; a change the server cannot read or apply puts the
    /// document out of sync, said once.
    fn did_change(&self, req: &Request) -> Result<(), String> {
        let docs = &self.session.docs;
        let p = match params::<DidChangeTextDocumentParams>(req) {
            Ok(p) => p,
            // A change that cannot be read is a change lost: every later one would
            // apply to the wrong text, so the document is out of sync from here.
            Err(e) => {
                let uri = req
                    .params()
                    .and_then(|p| p.pointer("/textDocument/uri"))
                    .and_then(Value::as_str);
                if let Some(uri) = uri {
                    let reason = format!("a change could not be read: {e}");
                    if docs.mark_desynced(uri, &reason) {
                        self.warn_out_of_sync(uri, &reason);
                    }
                }
                return Err(e);
            }
        };
        self.apply_change(p)
    }

    fn apply_change(&self, p: DidChangeTextDocumentParams) -> Result<(), String> {
        let docs = &self.session.docs;
        let uri = p.text_document.uri.as_str().to_owned();
        let version = p.text_document.version;
        tracing::trace!(uri, version, n = p.content_changes.len(), "didChange");
        let changes: Vec<_> = p
            .content_changes
            .into_iter()
            .map(from_proto::text_change)
            .collect();
        let was_in_sync = docs.in_sync(&uri);
        match docs.change(&uri, version, &changes, self.session.caps().encoding) {
            Ok(()) => Ok(()),
            Err(e @ (SyncError::BadRange(_) | SyncError::Desynced(_))) => {
                if was_in_sync {
                    self.warn_out_of_sync(&uri, &e.to_string());
                }
                Err(e.to_string())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// The version the argument's range belongs to and the range as char offsets of
    /// that version's text: the version the action was offered at when it names one
    /// the document had recently (another action's edit may have landed since), else
    /// the current one.
    fn arrival(&self, arg: &Value) -> Option<Arrival> {
        let uri = arg.get("uri")?.as_str()?;
        let range = serde_json::from_value(arg.get("range")?.clone()).ok()?;
        let docs = &self.session.docs;
        let offered = arg
            .get("version")
            .and_then(Value::as_i64)
            .and_then(|v| i32::try_from(v).ok())
            .and_then(|v| docs.text_at(uri, v).map(|text| (v, text)));
        let (version, text) = match offered {
            Some(found) => found,
            None => {
                let snap = docs.snapshot(uri)?;
                (snap.version, snap.text)
            }
        };
        let (start, end) = from_proto::char_range(&text, range, self.session.caps().encoding);
        Some(Arrival {
            version,
            start,
            end,
        })
    }

    /// Said once, when the document goes out of sync (not on every later change).
    fn warn_out_of_sync(&self, uri: &str, reason: &str) {
        self.warn_user(format!(
            "codex-lsp: {uri} is out of sync ({reason}); Codex actions on it are off until \
             the file is reopened (or the editor sends its whole text)"
        ));
    }

    fn warn_user(&self, message: String) {
        let client = self.client.clone();
        tokio::spawn(async move { client.show_message(MessageType::WARNING, message).await });
    }

    fn execute_command(&self, req: Request) -> Fut {
        let (_, id, p) = req.into_parts();
        let Some(id) = id else {
            return future::ready(Ok(None)).boxed();
        };
        // a place in the document's queue, and where the range is in the text as it is
        // now, both taken in wire order: jobs on one file run in the order their
        // requests arrived, each range carried through the edits made before it runs
        let job_arg = p.as_ref().and_then(|p| {
            let is_job = matches!(
                p.get("command").and_then(Value::as_str),
                Some(RUN_ACTION | ASK | EXPLAIN)
            );
            p.get("arguments")?.get(0).filter(|_| is_job)
        });
        let uri = job_arg.and_then(|a| a.get("uri")?.as_str());
        let ticket = uri.map(|uri| self.session.jobs.ticket(uri));
        let arrival = job_arg.and_then(|a| self.arrival(a));
        let session = self.session.clone();
        let client = self.client.clone();
        async move {
            let body = if !session.is_initialized() {
                Err(Error {
                    code: tower_lsp_server::jsonrpc::ErrorCode::ServerError(-32002),
                    message: "Server not initialized".into(),
                    data: None,
                })
            } else if session.shutdown_requested() {
                Err(Error::invalid_request())
            } else {
                match serde_json::from_value::<ExecuteCommandParams>(p.unwrap_or(Value::Null)) {
                    Ok(p) => {
                        execute::handle(session, client, id_key(&id), p, ticket, arrival).await
                    }
                    Err(e) => Err(Error::invalid_params(format!(
                        "workspace/executeCommand: {e}"
                    ))),
                }
            };
            Ok(Some(Response::from_parts(id, body)))
        }
        .boxed()
    }
}
