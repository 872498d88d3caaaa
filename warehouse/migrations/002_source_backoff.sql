-- Per-source backoff: a source failing run after run is tried later and later, never dropped.
ALTER TABLE source_health ADD COLUMN next_attempt_at TIMESTAMPTZ;
