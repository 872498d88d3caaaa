"""Dagster definitions, one module per stage: harvest, normalise, publish, schedules, resources."""
