"""Folding of Vietnamese text for search: case and diacritics ignored ("ha noi" finds "Hà Nội")."""

from __future__ import annotations

import unicodedata

__all__ = ["fold", "like_escape", "user_search_name"]

_SPECIAL = str.maketrans({"đ": "d", "Đ": "d", "ð": "d"})


def fold(text: str) -> str:
    """Lower-case, strip diacritics, and collapse white space; used on write and on search."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPECIAL))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.lower().split())


def like_escape(text: str) -> str:
    """Escape LIKE's wildcards (use with escape='\\'), so '%' and '_' are searched as typed."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def user_search_name(username: str, full_name: str) -> str:
    return fold(f"{username} {full_name}")
