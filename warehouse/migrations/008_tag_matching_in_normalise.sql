-- Whether an entry belongs in the hub is decided by normalise over the stored record and the
-- source's current tags and tagged_only, so an edit of sources.yaml holds on the next run or
-- rebuild without fetching (raw_entries.matched stays what its harvest decided).
ALTER TABLE entry_facts ADD COLUMN matched BOOLEAN;
ALTER TABLE entry_facts ADD COLUMN match_reasons VARCHAR[];
