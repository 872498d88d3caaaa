-- GitHub repositories harvested stories link to that no github source of its own reads. Written
-- by the linked_repositories asset after normalising; read by the next run's GitHub harvest (the
-- implicit github-linked-repos source), so the harvest never reaches into the normalised facts.
CREATE TABLE linked_repositories (
    name VARCHAR PRIMARY KEY,   -- owner/name as the first linking story wrote it
    page VARCHAR                -- a page linking it
);
