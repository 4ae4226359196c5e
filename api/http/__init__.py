"""Bodies, API keys, headers, access log, metrics, problems, OpenAPI. May import: config, engine."""
