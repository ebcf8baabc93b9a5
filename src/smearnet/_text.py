"""Small helpers for the text smearnet prints."""

from __future__ import annotations


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``"1 slide"``, ``"2 slides"``, ``"1,204 cells"`` (``nouns``: an irregular plural)."""
    return f"{n:,} {noun if n == 1 else (nouns or noun + 's')}"
