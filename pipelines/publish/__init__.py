"""What visitors see: the search index and queries, the static site, link checks."""
