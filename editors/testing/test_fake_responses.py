#!/usr/bin/env python3
"""Self-test of fake_responses.py (stdlib unittest):  python3 editors/testing/test_fake_responses.py"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_responses.py")


def read_text(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def parse_sse(raw: str) -> list[tuple[str, dict]]:
    events = []
    for frame in raw.split("\n\n"):
        if not frame.strip():
            continue
        lines = frame.split("\n")
        assert lines[0].startswith("event: "), frame
        assert lines[1].startswith("data: "), frame
        events.append((lines[0][len("event: ") :], json.loads(lines[1][len("data: ") :])))
    return events


class FakeTestCase(unittest.TestCase):
    """Starts the fake as CI's editor tests do (subprocess, --port-file, --replies, --log)."""

    REPLIES: list[dict] = []

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        d = self.dir.name
        self.port_file = os.path.join(d, "port")
        self.log = os.path.join(d, "log.jsonl")
        replies = os.path.join(d, "replies.json")
        with open(replies, "w") as f:
            json.dump(self.REPLIES, f)
        self.proc = subprocess.Popen(
            [sys.executable, FAKE, "--port-file", self.port_file, "--replies", replies, "--log", self.log]
        )
        deadline = time.monotonic() + 10
        while not (os.path.exists(self.port_file) and read_text(self.port_file).strip()):
            self.assertLess(time.monotonic(), deadline, "fake did not write its port")
            time.sleep(0.02)
        self.base = f"http://127.0.0.1:{int(read_text(self.port_file))}"

    def tearDown(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.dir.cleanup()

    def post(self, body: dict, auth: str | None = "Bearer sk-test"):
        req = urllib.request.Request(
            self.base + "/v1/responses", data=json.dumps(body).encode(), method="POST"
        )
        req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", auth)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.headers.get("Content-Type"), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type"), e.read().decode()

    def log_lines(self) -> list[dict]:
        return [json.loads(l) for l in read_text(self.log).splitlines() if l.strip()]


class FakeResponsesTest(FakeTestCase):
    REPLIES = [
        {"code": 'fn a() {\n    "é😀"\n}\n'},
        {"text": "Plain answer."},
        {"status": 429, "message": "slow down", "errorCode": "rate_limit_exceeded"},
        {"code": "last"},
    ]

    def test_sequence(self):
        # 1: function call, streamed
        status, ctype, raw = self.post({"model": "m", "stream": True, "input": "x"})
        self.assertEqual(status, 200)
        self.assertEqual(ctype, "text/event-stream")
        events = parse_sse(raw)
        types = [t for t, _ in events]
        self.assertEqual(types[0], "response.created")
        self.assertEqual(types[-1], "response.completed")
        for t, data in events:
            self.assertEqual(t, data["type"])
        self.assertEqual([d["sequence_number"] for _, d in events], list(range(len(events))))
        deltas = [d["delta"] for t, d in events if t == "response.function_call_arguments.delta"]
        self.assertGreater(len(deltas), 1)
        done = [d for t, d in events if t == "response.function_call_arguments.done"][0]
        self.assertEqual("".join(deltas), done["arguments"])
        self.assertEqual(json.loads(done["arguments"]), {"code": 'fn a() {\n    "é😀"\n}\n'})
        resp = events[-1][1]["response"]
        self.assertEqual(resp["id"], "resp_1")
        self.assertEqual(resp["status"], "completed")
        item = resp["output"][0]
        self.assertEqual(
            {k: item[k] for k in ("type", "id", "call_id", "name", "status")},
            {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "replace_selection", "status": "completed"},
        )
        self.assertIn("usage", resp)

        # 2: text, not streamed, chained on resp_1 (so it must answer resp_1's call)
        answer = {"type": "function_call_output", "call_id": "call_1", "output": "applied"}
        status, ctype, raw = self.post({"model": "m", "previous_response_id": "resp_1", "input": [answer]}, auth=None)
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("application/json"))
        resp = json.loads(raw)
        self.assertEqual(resp["id"], "resp_2")
        self.assertEqual(resp["output"][0]["type"], "message")
        self.assertEqual(resp["output"][0]["content"][0], {"type": "output_text", "text": "Plain answer.", "annotations": []})

        # 3: error status
        status, _, raw = self.post({"model": "m"})
        self.assertEqual(status, 429)
        self.assertEqual(json.loads(raw)["error"]["code"], "rate_limit_exceeded")

        # 4 and 5: the last reply repeats; text streams with output_text deltas
        for n in (4, 5):
            status, _, raw = self.post({"model": "m", "stream": True})
            self.assertEqual(parse_sse(raw)[-1][1]["response"]["id"], f"resp_{n}")

        log = self.log_lines()
        self.assertEqual([e["n"] for e in log], [1, 2, 3, 4, 5])
        self.assertEqual(log[0]["authorization"], "bearer")
        self.assertEqual(log[1]["authorization"], "none")
        self.assertNotIn("authorization", log[0]["headers"])
        self.assertNotIn("sk-test", json.dumps(log))
        self.assertEqual(log[1]["body"]["previous_response_id"], "resp_1")
        self.assertEqual(log[0]["path"], "/v1/responses")
        self.assertFalse(any("rejected" in e for e in log))

    def test_text_stream(self):
        self.post({"model": "m"})  # consume the code reply
        status, _, raw = self.post({"model": "m", "stream": True})
        events = parse_sse(raw)
        deltas = [d["delta"] for t, d in events if t == "response.output_text.delta"]
        self.assertEqual("".join(deltas), "Plain answer.")
        final = events[-1][1]["response"]["output"][0]
        self.assertEqual(final["role"], "assistant")



def call_item(call_id: str, **extra) -> dict:
    return dict({"type": "function_call", "call_id": call_id, "name": "replace_selection", "arguments": "{}"}, **extra)


def output_item(call_id: str, **extra) -> dict:
    return dict({"type": "function_call_output", "call_id": call_id, "output": "applied"}, **extra)


def user_item(text: str = "again", **extra) -> dict:
    return dict({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}, **extra)


def invalid_input(message: str) -> dict:
    return {"error": {"message": message, "type": "invalid_request_error", "param": "input", "code": None}}


def not_found(prev: str) -> dict:
    return {
        "error": {
            "message": f"Previous response with id '{prev}' not found.",
            "type": "invalid_request_error",
            "param": "previous_response_id",
            "code": "previous_response_not_found",
        }
    }


class RulesTestCase(FakeTestCase):
    def post_json(self, body: dict) -> tuple[int, dict]:
        status, _, raw = self.post(dict({"model": "m"}, **body))
        if body.get("stream") and status == 200:
            return status, parse_sse(raw)[-1][1]["response"]
        return status, json.loads(raw)

    def assert_ok(self, body: dict, response_id: str) -> dict:
        status, resp = self.post_json(body)
        self.assertEqual(status, 200, resp)
        self.assertEqual(resp["id"], response_id)
        return resp

    def assert_rejected(self, body: dict, status: int, error: dict) -> None:
        got_status, got = self.post_json(body)
        self.assertEqual((got_status, got), (status, error))


class ChainRulesTest(RulesTestCase):
    """The pairing / previous_response_id / store:false rules of the real Responses API."""

    # every reply is a function call, so resp_<n> owes call_<n>
    REPLIES = [{"code": "x"}]

    def test_previous_calls_must_be_answered(self):
        self.assert_ok({"input": "first"}, "resp_1")
        missing = invalid_input("No tool output found for function call call_1.")
        self.assert_rejected({"previous_response_id": "resp_1", "input": "next"}, 400, missing)
        self.assert_rejected({"previous_response_id": "resp_1", "input": [user_item()]}, 400, missing)
        # answering some other call does not count
        self.assert_rejected(
            {"previous_response_id": "resp_1", "input": [call_item("call_9"), output_item("call_9")]}, 400, missing
        )
        # answered: fine, streamed or not, with more input after the output
        resp = self.assert_ok({"previous_response_id": "resp_1", "input": [output_item("call_1"), user_item()]}, "resp_5")
        self.assertEqual(resp["previous_response_id"], "resp_1")
        self.assert_ok({"previous_response_id": "resp_5", "input": [output_item("call_5")], "stream": True}, "resp_6")
        # the chain may fork: resp_1 can be continued again
        self.assert_ok({"previous_response_id": "resp_1", "input": [output_item("call_1")]}, "resp_7")

    def test_rejected_request_counts_and_uses_up_its_reply(self):
        self.assert_ok({"input": "first"}, "resp_1")
        self.assert_rejected(
            {"previous_response_id": "resp_1"}, 400, invalid_input("No tool output found for function call call_1.")
        )
        # request 2 was answered by the rule; request 3 gets reply 3 and id resp_3
        self.assert_ok({"previous_response_id": "resp_1", "input": [output_item("call_1")]}, "resp_3")
        # resp_2 never existed
        self.assert_rejected({"previous_response_id": "resp_2", "input": [output_item("call_2")]}, 400, not_found("resp_2"))
        log = self.log_lines()
        self.assertEqual([e["n"] for e in log], [1, 2, 3, 4])
        self.assertEqual(
            log[1]["rejected"], {"status": 400, "message": "No tool output found for function call call_1."}
        )
        self.assertNotIn("rejected", log[0])
        self.assertNotIn("rejected", log[2])
        self.assertEqual(log[3]["rejected"]["message"], "Previous response with id 'resp_2' not found.")

    def test_output_without_call(self):
        self.assert_ok({"input": "first"}, "resp_1")
        self.assert_rejected(
            {"input": [user_item(), output_item("call_1")]},
            400,
            invalid_input("No tool call found for function call output with call_id call_1."),
        )
        # an extra output next to the owed one
        self.assert_rejected(
            {"previous_response_id": "resp_1", "input": [output_item("call_1"), output_item("call_x")]},
            400,
            invalid_input("No tool call found for function call output with call_id call_x."),
        )
        # an output before its call does not pair with it
        self.assert_rejected(
            {"input": [output_item("call_z"), call_item("call_z")]},
            400,
            invalid_input("No tool call found for function call output with call_id call_z."),
        )

    def test_replayed_call_needs_a_later_output(self):
        missing = invalid_input("No tool output found for function call call_a.")
        self.assert_rejected({"input": [user_item("q"), call_item("call_a")]}, 400, missing)
        self.assert_rejected({"input": [user_item("q"), call_item("call_a"), user_item()]}, 400, missing)
        self.assert_rejected(
            {"input": [call_item("call_b"), call_item("call_a"), output_item("call_b")]}, 400, missing
        )
        # a full client-side replay, stateless, as codex sends it
        replay = [
            user_item("q"),
            {"type": "reasoning", "summary": [], "encrypted_content": "gAAAA"},
            call_item("call_a"),
            output_item("call_a"),
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "done"}]},
            user_item(),
        ]
        resp = self.assert_ok({"store": False, "include": ["reasoning.encrypted_content"], "input": replay}, "resp_4")
        self.assertIs(resp["store"], False)

    def test_unknown_or_unstored_previous_response(self):
        self.assert_rejected({"previous_response_id": "resp_404", "input": "x"}, 400, not_found("resp_404"))
        self.assert_ok({"input": "first", "store": False}, "resp_2")
        # resp_2 exists but was not stored: not found, even with its call answered
        self.assert_rejected({"previous_response_id": "resp_2", "input": [output_item("call_2")]}, 400, not_found("resp_2"))
        # stored explicitly: chains fine
        self.assert_ok({"input": "first", "store": True}, "resp_4")
        self.assert_ok({"previous_response_id": "resp_4", "input": [output_item("call_4")], "store": False}, "resp_5")
        # a store:false continuation cannot itself be continued
        self.assert_rejected({"previous_response_id": "resp_5", "input": [output_item("call_5")]}, 400, not_found("resp_5"))

    def test_store_false_rejects_server_item_ids(self):
        for item_id, item in [
            ("rs_1", {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA"}),
            ("msg_1", {"type": "message", "id": "msg_1", "role": "assistant", "content": [{"type": "output_text", "text": "t"}]}),
            ("fc_1", call_item("call_1", id="fc_1")),
        ]:
            with self.subTest(item_id=item_id):
                message = (
                    f"Item with id '{item_id}' not found. Items are not persisted when `store` is set to false. "
                    "Try again with `store` set to true, or remove this item from your input."
                )
                self.assert_rejected(
                    {"store": False, "input": [user_item("q"), item, call_item("call_q"), output_item("call_q")]},
                    404,
                    invalid_input(message),
                )
        # without store:false the fake does not check item ids
        self.assert_ok({"input": [user_item("q"), call_item("call_1", id="fc_1"), output_item("call_1")]}, "resp_4")



class ScriptedErrorTest(RulesTestCase):
    REPLIES = [
        {"code": "x"},
        {"status": 400, "message": "Previous response with id 'resp_1' not found.", "errorCode": "previous_response_not_found"},
        {"text": "ok"},
    ]

    def test_scripted_error_wins_over_the_rules(self):
        self.assert_ok({"input": "first"}, "resp_1")
        # a valid chained request gets the scripted "forgotten" answer
        status, body = self.post_json({"previous_response_id": "resp_1", "input": [output_item("call_1")]})
        self.assertEqual((status, body["error"]["code"]), (400, "previous_response_not_found"))
        self.assertNotIn("rejected", self.log_lines()[1])
        # the client's resend without the chain, replaying the history itself
        self.assert_ok({"input": [user_item("q"), call_item("call_1"), output_item("call_1")]}, "resp_3")
        # a text response owes nothing: chaining on it needs no output
        self.assert_ok({"previous_response_id": "resp_3", "input": "thanks"}, "resp_4")
        self.assertEqual([e.get("rejected") for e in self.log_lines()], [None] * 4)


class DelayTest(FakeTestCase):
    REPLIES = [{"code": "slow", "delay": 0.6}, {"code": "fast"}]

    def test_delay_answers_late_but_logs_at_once(self):
        t0 = time.monotonic()
        status, _, _ = self.post({"model": "m", "input": "x"})
        self.assertEqual(status, 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.55)
        self.assertEqual(len(self.log_lines()), 1)
        t0 = time.monotonic()
        status, _, _ = self.post({"model": "m", "input": "y"})
        self.assertEqual(status, 200)
        self.assertLess(time.monotonic() - t0, 0.5)


if __name__ == "__main__":
    unittest.main()
