"""Small helpers for the text LWNet prints."""

from __future__ import annotations


def counted(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1: ``counted(2, "pair")`` → ``"2 pairs"``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
