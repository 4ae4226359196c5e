"""A browser-based CDS client for real: headless Chromium runs a page from another origin that POSTs a hook call
(a preflighted request: JSON and an Authorization header) to the service; CORS lets the allowed origin read the
cards and stops any other."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from support.cdsclient import SESSION_ATTENDANCE, hook_request
from support.live import HOST

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")  # scripts/setup-tests installs it

PAGE = """<!doctype html><html><body><pre id="out">pending</pre><script>
fetch(%(url)s, {method: "POST", headers: {"Content-Type": "application/json", "Authorization": "Bearer t"},
                body: JSON.stringify(%(body)s)})
  .then(r => r.json()).then(j => { document.getElementById("out").textContent = "cards: " +
      j.cards.map(c => c.summary).join(" | "); })
  .catch(e => { document.getElementById("out").textContent = "blocked: " + e; });
</script></body></html>"""


@contextmanager
def serving(handler: Any) -> Iterator[int]:
    server = ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


class Page(BaseHTTPRequestHandler):
    html = ""  # set once the service's port is known

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(self.html.encode())

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def service(app: Flask) -> Iterator[int]:
    server = make_server(HOST, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()


def run_page(port: int, tmp: Path) -> str:
    assert CHROMIUM is not None, "Chromium is missing: run scripts/setup-tests"
    out = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          f"--user-data-dir={tmp}", "--virtual-time-budget=15000", "--dump-dom",
                          f"http://{HOST}:{port}/"], capture_output=True, text=True, timeout=120)
    return out.stdout


@pytest.mark.parametrize(("allowed", "shown"), [(True, "cards: "), (False, "blocked: TypeError")])
def test_a_browser_ehr_reads_cards_only_from_an_allowed_origin(make_app: Callable[..., Flask], tmp_path: Path,
                                                               allowed: bool, shown: str) -> None:
    facts = {"session": {"id": "sess-b1", "type": "couples"}, "attendance": {"partners_present": 1}}
    body = hook_request(SESSION_ATTENDANCE, {"userId": "Practitioner/p", "patientId": "pat-a1", "facts": facts})
    page = type("ThisPage", (Page,), {})
    with serving(page) as page_port:
        origin = f"http://{HOST}:{page_port}"
        app = make_app({"cds_hooks": {"cors_origins": [origin if allowed else "https://ehr.example.org"]}},
                       keys=False)
        with service(app) as port:
            page.html = PAGE % {"url": json.dumps(f"http://{HOST}:{port}/cds-services/couples-attendance"),
                                "body": json.dumps(body)}
            dom = run_page(page_port, tmp_path / "chromium")
    assert shown in dom
    if allowed:
        assert "No penalty for the absence" in dom
