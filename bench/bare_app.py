"""The baseline for the HTTP benchmark: a bare Flask endpoint that parses and returns JSON."""

from __future__ import annotations

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/v1/decisions")
def decide():  # type: ignore[no-untyped-def]
    body = request.get_json()
    return jsonify({"session_id": body["facts"]["session"]["id"], "recommendations": []})
