"""Tokenization shared by the lexical index, match reasons and the answer verifier."""

from __future__ import annotations

import re

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "have",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "any",
        "some",
        "please",
        "show",
        "find",
        "want",
        "need",
        "looking",
        "look",
        "get",
        "give",
        "tell",
        "about",
        "how",
        "much",
        "many",
        "do",
        "does",
        "would",
        "could",
        "should",
        "i'm",
        "im",
        "hi",
        "hello",
        "hey",
        "thanks",
        "thank",
    ]
)
_WORD = re.compile(r"[a-z0-9]+(?:['.][a-z0-9]+)*")


def stem(word: str) -> str:
    """A deliberately light stemmer: plural and possessive forms only, so 'boots' finds 'boot'."""
    word = word.removesuffix("'s")
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokenize(text: str, keep_stopwords: bool = False) -> list[str]:
    words = _WORD.findall(text.lower())
    return [stem(w) for w in words if keep_stopwords or w not in STOPWORDS]
