"""Decisions under load for the replica tests: client threads posting new sessions, every answer recorded."""

from __future__ import annotations

import http.client
import itertools
import json
import threading
from dataclasses import dataclass, field

from support.live import HOST
from support.service import facts

__all__ = ["Load"]


@dataclass
class Load:
    """`threads` clients POSTing /v1/decisions to a port until stopped; (status, decision id or None) per answer."""

    port: int
    token: str
    threads: int = 3
    answers: list[tuple[int, str | None]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _count: itertools.count[int] = field(default_factory=itertools.count)
    _workers: list[threading.Thread] = field(default_factory=list)

    def _one(self) -> tuple[int, str | None]:
        body = json.dumps({"facts": facts(f"sess-load-{next(self._count)}")})
        conn = http.client.HTTPConnection(HOST, self.port, timeout=90)
        try:
            conn.request("POST", "/v1/decisions", body=body, headers={"Content-Type": "application/json",
                                                                      "Authorization": f"Bearer {self.token}"})
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            return 0, None  # the connection broke (or no answer in 90 s): nothing was acknowledged
        finally:
            conn.close()
        decision = json.loads(data).get("decision_id") if resp.status == 200 else None
        return resp.status, decision

    def _run(self) -> None:
        while not self._stop.is_set():
            answer = self._one()
            with self._lock:
                self.answers.append(answer)

    def start(self) -> Load:
        self._workers = [threading.Thread(target=self._run, daemon=True) for _ in range(self.threads)]
        for t in self._workers:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._workers:
            t.join(60)

    def count(self, status: int, since: int = 0) -> int:
        with self._lock:
            return sum(1 for s, _ in self.answers[since:] if s == status)

    def mark(self) -> int:
        with self._lock:
            return len(self.answers)

    def acknowledged(self) -> set[str]:
        with self._lock:
            return {d for s, d in self.answers if s == 200 and d}
