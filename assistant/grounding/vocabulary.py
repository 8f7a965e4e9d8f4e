"""Word lists the grounding checks share."""

from __future__ import annotations

# Capitalised words that are never a name, wherever they stand in a sentence: they need no source.
ALWAYS_OK = frozenset({"I", "I'm", "I'll", "I've", "I'd", "OK"})
