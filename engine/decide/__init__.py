"""Decider, reference interpreter, rationale, Decision types. May import: compile, policy, facts, core."""
