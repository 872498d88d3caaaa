"""Normalise stage: raw records become one item per real thing (see build.py for the steps)."""

from pipelines.normalise.items import STATE_KEY, ItemsBuild, build_items

__all__ = ["STATE_KEY", "ItemsBuild", "build_items"]
