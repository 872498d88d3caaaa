"""The one slug rule for names in stored ids and site paths, by python-slugify."""

from __future__ import annotations

from slugify import slugify as library_slugify


def slugify(text: str) -> str:
    """Lower-case ASCII letters and digits joined by hyphens: "Ville de Montréal" -> "ville-de-montreal".

    HTML entities stay text and a comma between digits separates them, as the rule the existing
    paths were made with did; letters with no ASCII form ("ß", "東") are transliterated, where that
    rule dropped them. The backend is named, so an installed Unidecode cannot change a path."""
    return library_slugify(text, entities=False, decimal=False, hexadecimal=False,
                           replacements=[(",", "-")], replacement_stage="pre", backend="text-unidecode")
