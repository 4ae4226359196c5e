"""Policy CI: scenarios and their runner, coverage, the scenario cases of diff. May import: impact and below."""
