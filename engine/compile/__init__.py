"""Policy -> durable_rules rulesets; the only importer of durable_rules. May import: policy, facts, core."""
