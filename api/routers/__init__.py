"""One router per resource: datasets, scenarios, runs, plans, and health (with version)."""
