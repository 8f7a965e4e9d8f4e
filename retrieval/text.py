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


_STEMMER = None


def _snowball() -> object | None:
    """PyStemmer's English Snowball stemmer when installed (a dependency), else None."""
    global _STEMMER
    if _STEMMER is None:
        try:
            import Stemmer

            _STEMMER = Stemmer.Stemmer("english")
        except ImportError:
            _STEMMER = False
    return _STEMMER or None


def lexical_tokens(text: str) -> list[str]:
    """Tokens for BM25: stemmed words without stopwords, plus adjacent-word bigrams ("knee_high"),
    so phrases like "over the knee" or "snow boot" score above the same words scattered."""
    words = [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]
    stemmer = _snowball()
    words = stemmer.stemWords(words) if stemmer is not None else [stem(w) for w in words]  # type: ignore[attr-defined]
    return words + [f"{a}_{b}" for a, b in zip(words, words[1:], strict=False)]
