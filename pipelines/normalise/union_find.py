"""Groups of keys joined two at a time (union-find): near-duplicate merges and projects."""

from __future__ import annotations

from collections.abc import Iterator


class UnionFind:
    """Each joined key's parent; a group's root is the key its others were joined into.

    Keys never joined are their own group and are not stored, so memory follows the joins."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def root(self, key: str) -> str:
        parent = self.parent
        while parent.get(key, key) != key:
            parent[key] = key = parent.get(parent[key], parent[key])  # path halving keeps chains short
        return key

    def join(self, keep: str, drop: str) -> None:
        """Put `drop`'s group into `keep`'s: the root of `keep` stays the root of both."""
        keep, drop = self.root(keep), self.root(drop)
        if keep != drop:
            self.parent[drop] = keep

    def forget(self, key: str) -> None:
        """Drop `key`; only for a whole group at once, since its members may point through it."""
        self.parent.pop(key, None)

    def __contains__(self, key: str) -> bool:
        return key in self.parent

    def __iter__(self) -> Iterator[str]:
        """Every key that was joined into another, in the order they were first joined."""
        return iter(self.parent)
