-- Entries of one source that share a canonical URL (posts whose permalinks differ only by
-- #fragment, or whose links are empty) are different posts: each keeps an id and URL of its own.
ALTER TABLE entry_facts ADD COLUMN own_key VARCHAR;   -- the entry's item id when its canonical URL is not its own
ALTER TABLE entry_facts ADD COLUMN own_url VARCHAR;   -- its permalink then (the link with its fragment, or a URL guid)
