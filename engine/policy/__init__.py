"""Policy versions as data: YAML source, schema, semantics, model, paths, locks. May import: facts, core."""
