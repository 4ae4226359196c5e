"""Decision log: store interface, SQLite, group commit, redaction, replay. May import: config, engine."""
