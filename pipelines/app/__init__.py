"""The `opengovtech` command: run, rebuild, demo, check, suggest-source, init."""
