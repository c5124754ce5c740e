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


class FakeResponsesTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        d = self.dir.name
        self.port_file = os.path.join(d, "port")
        self.log = os.path.join(d, "log.jsonl")
        replies = os.path.join(d, "replies.json")
        with open(replies, "w") as f:
            json.dump(
                [
                    {"code": 'fn a() {\n    "é😀"\n}\n'},
                    {"text": "Plain answer."},
                    {"status": 429, "message": "slow down", "errorCode": "rate_limit_exceeded"},
                    {"code": "last"},
                ],
                f,
            )
        self.proc = subprocess.Popen(
            [sys.executable, FAKE, "--port-file", self.port_file, "--replies", replies, "--log", self.log]
        )
        deadline = time.monotonic() + 10
        while not (os.path.exists(self.port_file) and open(self.port_file).read().strip()):
            self.assertLess(time.monotonic(), deadline, "fake did not write its port")
            time.sleep(0.02)
        self.base = f"http://127.0.0.1:{int(open(self.port_file).read())}"

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

        # 2: text, not streamed
        status, ctype, raw = self.post({"model": "m", "previous_response_id": "resp_1"}, auth=None)
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

        log = [json.loads(l) for l in open(self.log)]
        self.assertEqual([e["n"] for e in log], [1, 2, 3, 4, 5])
        self.assertEqual(log[0]["authorization"], "bearer")
        self.assertEqual(log[1]["authorization"], "none")
        self.assertNotIn("authorization", log[0]["headers"])
        self.assertNotIn("sk-test", json.dumps(log))
        self.assertEqual(log[1]["body"]["previous_response_id"], "resp_1")
        self.assertEqual(log[0]["path"], "/v1/responses")

    def test_text_stream(self):
        self.post({"model": "m"})  # consume the code reply
        status, _, raw = self.post({"model": "m", "stream": True})
        events = parse_sse(raw)
        deltas = [d["delta"] for t, d in events if t == "response.output_text.delta"]
        self.assertEqual("".join(deltas), "Plain answer.")
        final = events[-1][1]["response"]["output"][0]
        self.assertEqual(final["role"], "assistant")


if __name__ == "__main__":
    unittest.main()
