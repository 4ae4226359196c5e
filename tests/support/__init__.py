"""Test support shared by tests/, scripts/ and bench/ (never imports a test module).

policies: policies and facts builders; factgen: the fact and policy generators; strategies: Hypothesis
strategies; service: keys, tokens and facts of the service tests; lifecycle: policy versions and admin
calls; openapi: response validators; live: the one live-server harness; rawhttp: raw HTTP/1.1; logdb:
the decision log read back; fuzzchecks: the Schemathesis checks; hostile_policies: hostile policy
files, measured; scripts: running scripts/ for their short CI runs.
"""
