"""One module per source kind; each turns a configured source into a SourceOutcome."""
