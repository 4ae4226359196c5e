"""Policy CI: scenarios and their runner, coverage, impact diff, reports. May import: runtime and below."""
