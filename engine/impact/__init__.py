"""Impact of a new version: what changed, which decisions change (generated, logged). May import: runtime and below."""
