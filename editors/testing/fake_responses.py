#!/usr/bin/env python3
"""A tiny fake OpenAI Responses API for codex-lsp's editor end-to-end tests.

Python 3.11, standard library only. Shared by the Neovim and VS Code tests: keep
this interface stable.

Usage
-----
    python3 fake_responses.py --port-file PATH --replies PATH [--log PATH]

* Listens on 127.0.0.1 on a free port (port 0). Once it is listening it writes the
  port number (decimal, then a newline) to --port-file, atomically (temp file +
  rename), so a reader polling for the file never sees a partial number.
  Point the server at it with CODEX_LSP_BASE_URL=http://127.0.0.1:$PORT/v1.
* --replies is a JSON file holding a list of replies. Each POST to /v1/responses
  (also accepted: /responses) takes the next reply; once the list is used up the
  last one repeats. A reply is one of
      {"code": "..."}   the model calls the function tool `replace_selection`
                        with arguments {"code": "..."}
      {"text": "..."}   the model answers with a plain assistant message
  Optional keys on any reply:
      "status": 500     answer with this HTTP error status instead (an OpenAI-style
                        error body {"error": {message, type, code}}), "message"
                        and "errorCode" fill it in.
      "delay": 5        wait this many seconds (after logging the request) before
                        answering: a slow model, for cancellation tests.
* Wire format: when the request JSON has "stream": true the answer is an SSE
  stream (Content-Type: text/event-stream), one frame per event,
  "event: <type>\\ndata: <json>\\n\\n", then the connection is closed. Events:
      function call: response.created, response.in_progress,
                     response.output_item.added, response.function_call_arguments.delta
                     (a few chunks), response.function_call_arguments.done,
                     response.output_item.done, response.completed
      text:          response.created, response.in_progress,
                     response.output_item.added, response.content_part.added,
                     response.output_text.delta (a few chunks), response.output_text.done,
                     response.content_part.done, response.output_item.done,
                     response.completed
  Every event carries "type" and an increasing "sequence_number". The
  response.completed event's "response" is the full object. Without "stream": true
  the answer is that same response object as a JSON body.
  The n-th request (1-based) gets response id resp_<n>; a function call item has
  id fc_<n> and call_id call_<n>; a message item has id msg_<n>.
* --log: every request is appended as one JSON line:
      {"n": <1-based index>, "method": "POST", "path": "/v1/responses",
       "headers": {<lower-cased name>: value, ...},   # authorization value dropped
       "authorization": "bearer" | "other" | "none",  # "bearer" = "Bearer <non-empty>"
       "body": <the parsed JSON body, or null if it did not parse>}
  The line is written before the answer is sent, so a test that has seen the
  edit applied will find the request in the log.
* GET /health answers 200 "ok" (handy for a readiness probe); any other path 404.

Chain rules (what the real Responses API enforces)
-------------------------------------------------
The fake remembers every response it served successfully: its id, the call_ids of its
function_call items, and whether the request that created it had "store": false
(absent means stored). Each POST is then checked against these rules; the first one
broken, in this order, is answered with an OpenAI-style error body
{"error": {"message", "type": "invalid_request_error", "param", "code"}}:
  1. "previous_response_id" names a response this fake never served (or one that was
     itself rejected), or one created with "store": false
       -> 400, param "previous_response_id", code "previous_response_not_found",
          "Previous response with id '<id>' not found."
  2. "store": false and an input item carries an "id" (a server item id such as rs_...,
     msg_..., fc_...; the fake treats any string "id" on an input item this way and does
     not model items persisted by earlier stored responses)
       -> 404, param "input", code null, "Item with id '<id>' not found. Items are not
          persisted when `store` is set to false. Try again with `store` set to true, or
          remove this item from your input."
  3. a function call of the previous response with no
     {"type": "function_call_output", "call_id": ...} item anywhere in "input"
       -> 400, param "input", code null, "No tool output found for function call <call_id>."
  4. a function_call_output whose call_id is neither a call of the previous response nor
     the call_id of a function_call item earlier in the same "input"
       -> 400, param "input", code null,
          "No tool call found for function call output with call_id <call_id>."
  5. a function_call item in "input" (client-side history replay) with no later
     function_call_output of the same call_id
       -> 400, param "input", code null, "No tool output found for function call <call_id>."
How a broken rule interacts with the script: the request still counts (it is request n,
it is logged, and reply n is used up), but the rule's error replaces reply n, and no
response resp_<n> exists afterwards (chaining on it gives rule 1). A scripted error reply
("status") takes precedence over the rules, so a script can still make the service
"forget" a response: {"status": 400, "errorCode": "previous_response_not_found", ...}.
The log line of a request answered by a rule carries one extra key,
    "rejected": {"status": <400 or 404>, "message": "<the error message>"};
other log lines are unchanged. Successful response objects also carry "store" (true
unless the request sent "store": false).

Stop it with SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL_DEFAULT = "gpt-5.3-codex-official"


class Served:
    """What the fake remembers about a response it served."""

    def __init__(self, call_ids: list[str], stored: bool):
        self.call_ids = call_ids
        self.stored = stored


def error_body(message: str, param: str | None, code: str | None) -> dict:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


def no_tool_output(call_id) -> tuple[int, dict]:
    return 400, error_body(f"No tool output found for function call {call_id}.", "input", None)


def chain_rule_violation(body: dict, served: dict[str, Served]) -> tuple[int, dict] | None:
    """The (status, error body) the real API would answer `body` with, given the responses
    served so far, or None when the request keeps the chain rules (see the module docstring)."""
    raw = body.get("input")
    items = [it for it in raw if isinstance(it, dict)] if isinstance(raw, list) else []

    owed: list[str] = []
    prev = body.get("previous_response_id")
    if prev is not None:
        known = served.get(prev) if isinstance(prev, str) else None
        if known is None or not known.stored:
            message = f"Previous response with id '{prev}' not found."
            return 400, error_body(message, "previous_response_id", "previous_response_not_found")
        owed = known.call_ids

    if body.get("store") is False:
        for it in items:
            item_id = it.get("id")
            if isinstance(item_id, str) and item_id:
                message = (
                    f"Item with id '{item_id}' not found. Items are not persisted when `store` is set "
                    "to false. Try again with `store` set to true, or remove this item from your input."
                )
                return 404, error_body(message, "input", None)

    def outputs(start: int = 0) -> list:
        return [it.get("call_id") for it in items[start:] if it.get("type") == "function_call_output"]

    answered = outputs()
    for call_id in owed:
        if call_id not in answered:
            return no_tool_output(call_id)

    calls_so_far: list = []
    for it in items:
        kind = it.get("type")
        if kind == "function_call":
            calls_so_far.append(it.get("call_id"))
        elif kind == "function_call_output":
            call_id = it.get("call_id")
            if call_id not in owed and call_id not in calls_so_far:
                message = f"No tool call found for function call output with call_id {call_id}."
                return 400, error_body(message, "input", None)

    for i, it in enumerate(items):
        if it.get("type") == "function_call" and it.get("call_id") not in outputs(i + 1):
            return no_tool_output(it.get("call_id"))
    return None


class State:
    def __init__(self, replies: list[dict], log_path: str | None):
        self.replies = replies
        self.log_path = log_path
        self.count = 0
        self.served: dict[str, Served] = {}
        self.lock = threading.Lock()

    def violation(self, body: dict) -> tuple[int, dict] | None:
        with self.lock:
            return chain_rule_violation(body, self.served)

    def remember(self, response_id: str, item: dict, body: dict) -> None:
        calls = [item["call_id"]] if item.get("type") == "function_call" else []
        with self.lock:
            self.served[response_id] = Served(calls, body.get("store") is not False)

    def next(self) -> tuple[int, dict]:
        with self.lock:
            self.count += 1
            n = self.count
        reply = self.replies[min(n - 1, len(self.replies) - 1)] if self.replies else {"text": ""}
        return n, reply

    def log(self, entry: dict) -> None:
        if not self.log_path:
            return
        line = json.dumps(entry, ensure_ascii=False)
        with self.lock:
            with open(self.log_path, "a", encoding="utf-8") as f:
                f.write(line + "\n")
                f.flush()


def chunks(s: str, parts: int = 3) -> list[str]:
    """Split s into up to `parts` non-empty pieces (at least one piece)."""
    if not s:
        return [""]
    size = max(1, -(-len(s) // parts))
    return [s[i : i + size] for i in range(0, len(s), size)]


def usage() -> dict:
    return {
        "input_tokens": 42,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 17,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 59,
    }


def response_object(n: int, body: dict, status: str, output: list, with_usage: bool) -> dict:
    return {
        "id": f"resp_{n}",
        "object": "response",
        "created_at": 1764000000 + n,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "model": body.get("model") or MODEL_DEFAULT,
        "previous_response_id": body.get("previous_response_id"),
        "store": body.get("store") is not False,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools", []),
        "usage": usage() if with_usage else None,
    }


def build_item(n: int, reply: dict) -> dict:
    if "code" in reply:
        return {
            "type": "function_call",
            "id": f"fc_{n}",
            "call_id": f"call_{n}",
            "name": "replace_selection",
            "arguments": json.dumps({"code": reply["code"]}, ensure_ascii=False),
            "status": "completed",
        }
    return {
        "type": "message",
        "id": f"msg_{n}",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": reply.get("text", ""), "annotations": []}],
    }


def sse_events(n: int, body: dict, reply: dict) -> list[dict]:
    item = build_item(n, reply)
    events: list[dict] = [
        {"type": "response.created", "response": response_object(n, body, "in_progress", [], False)},
        {"type": "response.in_progress", "response": response_object(n, body, "in_progress", [], False)},
    ]
    if item["type"] == "function_call":
        added = dict(item, arguments="", status="in_progress")
        events.append({"type": "response.output_item.added", "output_index": 0, "item": added})
        for piece in chunks(item["arguments"]):
            events.append(
                {
                    "type": "response.function_call_arguments.delta",
                    "item_id": item["id"],
                    "output_index": 0,
                    "delta": piece,
                }
            )
        events.append(
            {
                "type": "response.function_call_arguments.done",
                "item_id": item["id"],
                "output_index": 0,
                "name": item["name"],
                "arguments": item["arguments"],
            }
        )
    else:
        text = item["content"][0]["text"]
        added = dict(item, status="in_progress", content=[])
        events.append({"type": "response.output_item.added", "output_index": 0, "item": added})
        empty_part = {"type": "output_text", "text": "", "annotations": []}
        events.append(
            {
                "type": "response.content_part.added",
                "item_id": item["id"],
                "output_index": 0,
                "content_index": 0,
                "part": empty_part,
            }
        )
        for piece in chunks(text):
            events.append(
                {
                    "type": "response.output_text.delta",
                    "item_id": item["id"],
                    "output_index": 0,
                    "content_index": 0,
                    "delta": piece,
                    "logprobs": [],
                }
            )
        events.append(
            {
                "type": "response.output_text.done",
                "item_id": item["id"],
                "output_index": 0,
                "content_index": 0,
                "text": text,
                "logprobs": [],
            }
        )
        events.append(
            {
                "type": "response.content_part.done",
                "item_id": item["id"],
                "output_index": 0,
                "content_index": 0,
                "part": item["content"][0],
            }
        )
    events.append({"type": "response.output_item.done", "output_index": 0, "item": item})
    events.append({"type": "response.completed", "response": response_object(n, body, "completed", [item], True)})
    for i, ev in enumerate(events):
        ev["sequence_number"] = i
    return events


def make_handler(state: State):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "fake-responses/1"

        def log_message(self, fmt, *args):  # keep stderr quiet
            pass

        def _send(self, status: int, ctype: str, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
            self.close_connection = True

        def _read_body(self) -> bytes:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                out = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return out
                    out += self.rfile.read(size)
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def do_GET(self):
            if self.path == "/health":
                self._send(200, "text/plain", b"ok")
            else:
                self._send(404, "application/json", b'{"error":{"message":"not found"}}')

        def do_POST(self):
            raw = self._read_body()
            if self.path.split("?")[0] not in ("/v1/responses", "/responses"):
                self._send(404, "application/json", b'{"error":{"message":"not found"}}')
                return
            try:
                body = json.loads(raw.decode("utf-8"))
            except Exception:
                body = None
            auth = self.headers.get("Authorization")
            if auth is None:
                auth_kind = "none"
            elif auth.startswith("Bearer ") and auth[len("Bearer ") :].strip():
                auth_kind = "bearer"
            else:
                auth_kind = "other"
            headers = {k.lower(): v for k, v in self.headers.items() if k.lower() != "authorization"}
            n, reply = state.next()
            entry = {
                "n": n,
                "method": "POST",
                "path": self.path,
                "headers": headers,
                "authorization": auth_kind,
                "body": body,
            }
            # A scripted error wins over the chain rules (see the module docstring).
            violation = state.violation(body) if isinstance(body, dict) and "status" not in reply else None
            if violation is not None:
                entry["rejected"] = {"status": violation[0], "message": violation[1]["error"]["message"]}
            state.log(entry)
            delay = reply.get("delay")
            if isinstance(delay, (int, float)) and delay > 0:
                time.sleep(delay)
            if not isinstance(body, dict):
                err = {"error": {"message": "invalid JSON body", "type": "invalid_request_error", "code": None}}
                self._send(400, "application/json", json.dumps(err).encode())
                return
            if violation is not None:
                self._send(violation[0], "application/json", json.dumps(violation[1]).encode())
                return
            if "status" in reply:
                err = {
                    "error": {
                        "message": reply.get("message", "fake error"),
                        "type": "server_error",
                        "param": None,
                        "code": reply.get("errorCode"),
                    }
                }
                self._send(int(reply["status"]), "application/json", json.dumps(err).encode())
                return
            state.remember(f"resp_{n}", build_item(n, reply), body)
            if body.get("stream") is True:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                for ev in sse_events(n, body, reply):
                    frame = f"event: {ev['type']}\ndata: {json.dumps(ev, ensure_ascii=False)}\n\n"
                    self.wfile.write(frame.encode("utf-8"))
                    self.wfile.flush()
                self.close_connection = True
            else:
                item = build_item(n, reply)
                obj = response_object(n, body, "completed", [item], True)
                self._send(200, "application/json", json.dumps(obj, ensure_ascii=False).encode("utf-8"))

    return Handler


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="fake OpenAI Responses API (see module docstring)")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--replies", required=True)
    ap.add_argument("--log")
    args = ap.parse_args(argv)

    with open(args.replies, encoding="utf-8") as f:
        replies = json.load(f)
    if not isinstance(replies, list) or not all(isinstance(r, dict) for r in replies):
        print("fake_responses: --replies must be a JSON list of objects", file=sys.stderr)
        return 2

    state = State(replies, args.log)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    httpd.daemon_threads = True
    port = httpd.server_address[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, args.port_file)

    def stop(signum, frame):
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        httpd.serve_forever(poll_interval=0.1)
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
