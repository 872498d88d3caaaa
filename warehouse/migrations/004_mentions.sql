-- A social post (toot, skeet) that shares a page is a *mention* of the story on that page:
-- the record of the story carries who shared it, where and when. An item lists every mention.

ALTER TABLE raw_entries ADD COLUMN mention VARCHAR;   -- JSON: {platform, url, author, posted_at, text}
ALTER TABLE items ADD COLUMN mentions VARCHAR[];       -- every mention's JSON, oldest first

CREATE OR REPLACE VIEW hub_items AS
SELECT id, kind, title, url, summary, content_text, author, organisation, published_at, updated_at,
       tags, source_ids, match_reasons, first_seen_at, last_seen_at, date_missing, language, content_html,
       asset_type, details, mentions
FROM items;
