"""The real yaml-language-server, driven over stdio like an editor, flags the mistakes the engine would refuse.

It is installed by `.ci/run` (`npm ci` in tools/editor/, the version pinned in its
package-lock.json). Without it this test fails and says how to install it; set
SKIP_EDITOR_LANGUAGE_SERVER_TEST=1 to skip it on a machine without Node.js (CI never does).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from typing import IO, Any

import pytest

from support.policies import DEFAULT_POLICY, ROOT

TOOLS = ROOT / "tools" / "editor"
SERVER = TOOLS / "node_modules" / "yaml-language-server" / "bin" / "yaml-language-server"
SKIP_VARIABLE = "SKIP_EDITOR_LANGUAGE_SERVER_TEST"
WAIT = 90.0  # seconds for one answer: node starts slowly on a loaded machine

pytestmark = pytest.mark.skipif(os.environ.get(SKIP_VARIABLE) == "1",
                                reason=f"{SKIP_VARIABLE}=1: no yaml-language-server on this machine")


class LanguageServer:
    """An LSP client over a child process's stdin/stdout: JSON-RPC messages framed by Content-Length."""

    def __init__(self, command: list[str]) -> None:
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.next_id = 0
        assert self.proc.stdout is not None
        self.reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self.reader.start()

    def _read(self, stream: IO[bytes]) -> None:
        while True:
            headers = {}
            while (line := stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("ascii").partition(":")
                headers[name.strip().lower()] = value.strip()
            if not line:
                self.inbox.put(None)  # the server is gone
                return
            self.inbox.put(json.loads(stream.read(int(headers["content-length"]))))

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.proc.stdin.flush()

    def request(self, method: str, params: Any) -> Any:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        return self.wait(lambda m: m.get("id") == self.next_id and "method" not in m).get("result")

    def wait(self, wanted: Any) -> dict[str, Any]:
        """The next message `wanted` accepts; the server's own requests are answered meanwhile."""
        while True:
            try:
                message = self.inbox.get(timeout=WAIT)
            except queue.Empty:
                raise AssertionError(f"yaml-language-server sent nothing wanted for {WAIT:.0f}s") from None
            if message is None:
                raise AssertionError("yaml-language-server stopped")
            if wanted(message):
                return message
            if "id" in message and "method" in message:
                self.send({"id": message["id"], "result": _answer(message)})

    def diagnostics(self, uri: str, text: str) -> list[dict[str, Any]]:
        """Open a document as an editor does and return what the server publishes about it."""
        self.send({"method": "textDocument/didOpen",
                   "params": {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}}})
        found = self.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                          and m["params"]["uri"] == uri)
        return list(found["params"]["diagnostics"])

    def close(self) -> None:
        try:
            self.request("shutdown", None)
            self.send({"method": "exit"})
            self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.reader.join(timeout=30)  # it reads to the end of the output, then the pipes can close
            for pipe in (self.proc.stdin, self.proc.stdout):
                if pipe is not None:
                    pipe.close()


SETTINGS = {"validate": True, "schemaStore": {"enable": False}, "hover": True, "completion": True}


def _answer(request: dict[str, Any]) -> Any:
    if request["method"] == "workspace/configuration":
        return [SETTINGS if item.get("section") == "yaml" else None for item in request["params"]["items"]]
    return None  # client/registerCapability, window/workDoneProgress/create: acknowledged


def _server_command() -> list[str]:
    node = shutil.which("node")
    if node is None or not SERVER.exists():
        pytest.fail(f"yaml-language-server is not installed (node: {node or 'not found'}, {SERVER} missing). "
                    f"Install it with `npm ci --prefix {TOOLS.relative_to(ROOT)}` (Node.js 20 and npm needed; "
                    f".ci/run does this), or set {SKIP_VARIABLE}=1 to skip this test on a machine without Node.js.")
    return [node, str(SERVER), "--stdio"]


MISTAKES = {  # what an editor shows after three typos in the bundled policy
    "fact: preferences.makeup_session_requested": "fact: preferences.makeup_requested",  # unknown fact
    "op: gte, param: review_after_consecutive_missed": "op: at_least, param: review_after_consecutive_missed",
    "value: [scheduling_conflict, work, caregiving]": "value: [scheduling_conflict, job, caregiving]",
}


@pytest.fixture(scope="module")
def published() -> Iterator[dict[str, tuple[str, list[dict[str, Any]]]]]:
    server = LanguageServer(_server_command())
    try:
        server.request("initialize", {"processId": os.getpid(), "rootUri": ROOT.as_uri(),
                                      "capabilities": {"workspace": {"configuration": True}}})
        server.send({"method": "initialized", "params": {}})
        server.send({"method": "workspace/didChangeConfiguration", "params": {"settings": {"yaml": SETTINGS}}})
        good = DEFAULT_POLICY.read_text(encoding="utf-8")
        bad = good
        for right, wrong in MISTAKES.items():
            assert bad.count(right) == 1, right
            bad = bad.replace(right, wrong)
        # An unsaved copy beside the bundled file: its `$schema=` line resolves the same way.
        bad_uri = (DEFAULT_POLICY.parent / "9.9.9.yaml").as_uri()
        out = {"bad": (bad, server.diagnostics(bad_uri, bad))}  # first: the schema is loaded before `good` opens
        out["good"] = (good, server.diagnostics(DEFAULT_POLICY.as_uri(), good))
        yield out
    finally:
        server.close()


def _at(text: str, needle: str) -> dict[str, int]:
    before = text[: text.index(needle)]
    return {"line": before.count("\n"), "character": len(before) - (before.rfind("\n") + 1)}


@pytest.mark.parametrize(("word", "message"), [
    ("preferences.makeup_requested", 'Value is not accepted. Valid values: "session.id", "session.type"'),
    ("at_least", 'Value is not accepted. Valid values: "eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in".'),
    ("job", 'Value is not accepted. Valid values: "none", "scheduling_conflict", "work", "caregiving"'),
])
def test_each_mistake_is_flagged_where_it_is(published: dict[str, Any], word: str, message: str) -> None:
    text, diagnostics = published["bad"]
    here = [d for d in diagnostics if d["range"]["start"] == _at(text, word)]
    assert here, f"nothing flagged at {word!r}; flagged: {[(d['range']['start'], d['message']) for d in diagnostics]}"
    assert [d["severity"] for d in here] == [1] * len(here)  # errors
    assert any(d["message"].startswith(message) for d in here), [d["message"] for d in here]
    assert all("policy.schema.json#/$defs/editor" in d["data"]["schemaUri"][0] for d in here)


def test_only_the_mistakes_are_flagged(published: dict[str, Any]) -> None:
    text, diagnostics = published["bad"]
    assert {(d["range"]["start"]["line"]) for d in diagnostics} == {_at(text, w)["line"] for w in
                                                                    ("makeup_requested", "at_least", "job")}


def test_the_bundled_policy_has_no_diagnostics(published: dict[str, Any]) -> None:
    text, diagnostics = published["good"]
    assert text.startswith("# yaml-language-server: $schema=../../schemas/policy.schema.json#/$defs/editor\n")
    assert diagnostics == []
