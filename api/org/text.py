"""Folding of Vietnamese text for search: case and diacritics ignored ("ha noi" finds "Hà Nội")."""

from __future__ import annotations

import unicodedata

__all__ = ["fold"]

_SPECIAL = str.maketrans({"đ": "d", "Đ": "d", "ð": "d"})


def fold(text: str) -> str:
    """Lower-case, strip diacritics, and collapse white space; used on write and on search."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPECIAL))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.lower().split())
