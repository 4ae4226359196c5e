"""Registry, Engine, live set, reload planning (no Flask). May import: analysis and below."""
