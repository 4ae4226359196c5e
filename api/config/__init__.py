"""Service settings: declared once, coerced and checked, read from file and env. May import: engine."""
