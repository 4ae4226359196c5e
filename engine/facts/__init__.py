"""Session facts: strict JSON, schema checks, defaults, the fact catalogue. May import: core."""
