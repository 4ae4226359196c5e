"""Impact of a new policy version: what changed, and which decisions it changes (generated cases, logged traffic)."""
