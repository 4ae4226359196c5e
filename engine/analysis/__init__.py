"""Fact space, three-valued logic and lint findings of a version. May import: decide and below."""
