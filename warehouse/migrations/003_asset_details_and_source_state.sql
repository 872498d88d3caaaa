-- Source kinds that know what a record is (a GitHub repository is an asset) say so, and keep
-- typed facts about it; sources that read incrementally keep a cursor between runs.

ALTER TABLE raw_entries ADD COLUMN kind_hint VARCHAR;      -- story | technique | asset | event | community
ALTER TABLE raw_entries ADD COLUMN asset_type VARCHAR;     -- repo | dataset | tool | standard | other
ALTER TABLE raw_entries ADD COLUMN organisation VARCHAR;   -- who the record says published it (a repo's owner)
ALTER TABLE raw_entries ADD COLUMN details VARCHAR;        -- JSON: typed facts (a repo's licence, stars, …)

ALTER TABLE items ADD COLUMN asset_type VARCHAR;
ALTER TABLE items ADD COLUMN details VARCHAR;

CREATE OR REPLACE VIEW hub_items AS
SELECT id, kind, title, url, summary, content_text, author, organisation, published_at, updated_at,
       tags, source_ids, match_reasons, first_seen_at, last_seen_at, date_missing, language, content_html,
       asset_type, details
FROM items;

-- One row per repository asset, its facts as typed columns.
CREATE OR REPLACE VIEW hub_repositories AS
SELECT id, url, title AS full_name, summary AS description, organisation, tags AS topics,
       json_extract_string(details, '$.homepage') AS homepage,
       json_extract_string(details, '$.license') AS license,
       json_extract_string(details, '$.language') AS language,
       CAST(json_extract(details, '$.stars') AS INTEGER) AS stars,
       CAST(json_extract(details, '$.forks') AS INTEGER) AS forks,
       CAST(json_extract(details, '$.open_issues') AS INTEGER) AS open_issues,
       CAST(json_extract(details, '$.archived') AS BOOLEAN) AS archived,
       CAST(json_extract(details, '$.fork') AS BOOLEAN) AS fork,
       CAST(json_extract_string(details, '$.created_at') AS TIMESTAMPTZ) AS created_at,
       CAST(json_extract_string(details, '$.pushed_at') AS TIMESTAMPTZ) AS pushed_at,
       json_extract_string(details, '$.default_branch') AS default_branch,
       json_extract_string(details, '$.readme_excerpt') AS readme_excerpt,
       json_extract(details, '$.publiccode') AS publiccode,
       source_ids
FROM items
WHERE kind = 'asset' AND asset_type = 'repo';

-- Per-source state a kind carries from run to run (pages of a listing, the last id seen).
CREATE TABLE source_state (
    source_id   VARCHAR PRIMARY KEY,
    state_json  VARCHAR NOT NULL,
    updated_at  TIMESTAMPTZ
);
