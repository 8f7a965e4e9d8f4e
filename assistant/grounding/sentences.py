"""Sentence splitting, shared by the chat verifier, the claim checker and the copy studio.

Bullet lines are units of their own; within other lines a sentence ends at ".", "!" or "?" (and
":" where the caller asks), with any closing quote or bracket, before whitespace. A full stop does
not end a sentence after an abbreviation ("Rs. 499", "Trail Co. today"), after an initial
("J. Smith"), inside a number ("12.99"), or after a dotted acronym that a number or a lower-case
word follows ("Size U.S. 10"), unless the caller asks that a capitalised word after a full stop
always start a sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Lower-case, without the final full stop.
ABBREVIATIONS = frozenset({
    "rs", "no", "nos", "approx", "e.g", "i.e", "co", "inc", "ltd", "st", "mr", "mrs", "dr", "vs", "etc", "incl",
    "min", "max", "sr", "jr",
})  # fmt: skip

_BULLET = re.compile(r"[-*•]\s")
_END = re.compile(r"[.!?]+[\"”')\]]*(?=\s+\S)")
_END_OR_COLON = re.compile(r"[.!?:]+[\"”')\]]*(?=\s+\S)")
_WORD_BEFORE = re.compile(r"([\w.]+)[.!?]*$")
_DOTTED_ACRONYM = re.compile(r"(?:[a-z]\.)+[a-z]")


@dataclass(frozen=True)
class Sentence:
    """A sentence or a bullet line of a text, with its character span there."""

    text: str
    start: int
    end: int


def sentence_spans(
    text: str, *, colon: bool = False, capital_starts: bool = False, bullets: bool = True, lines: bool = True
) -> list[Sentence]:
    """Bullet lines, and sentences within other lines, stripped, in text order.

    `colon`: a colon before whitespace also ends a sentence (what follows "Material:" starts
    afresh). `capital_starts`: a full stop before a capitalised word always ends a sentence, even
    after an abbreviation or initial ("Trail Co. Made of...", "Organic: No. Not..."): what the name
    finders want, for which a capital there is likelier a sentence start than a name.
    `bullets=False` splits a bullet line into sentences like any other line.
    `lines=False` reads the text as one line: a line break is plain whitespace and no line is a
    bullet (what streaming wants, where sentences end only at punctuation)."""
    end = _END_OR_COLON if colon else _END
    if not lines:
        return _sentences(text, 0, end, capital_starts)
    units: list[Sentence] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped:
            lead = offset + line.index(stripped[0])
            if bullets and _BULLET.match(stripped):
                units.append(Sentence(stripped, lead, lead + len(stripped)))
            else:
                units.extend(_sentences(stripped, lead, end, capital_starts))
        offset += len(line)
    return units


def split_sentences(buffer: str) -> tuple[list[str], str]:
    """Complete sentences in `buffer` and the unfinished rest (for sentence-wise streaming).

    A sentence is complete once the next one has begun; at the end of the stream the caller takes
    the rest as the last sentence."""
    spans = sentence_spans(buffer, lines=False)
    if len(spans) < 2:
        return [], buffer
    return [s.text for s in spans[:-1]], buffer[spans[-1].start :]


def _sentences(line: str, base: int, end: re.Pattern[str], capital_starts: bool) -> list[Sentence]:
    out: list[Sentence] = []
    start = 0
    for m in end.finditer(line):
        if m.group(0) == "." and not _ends_sentence(line, start, m, capital_starts):
            continue
        piece = line[start : m.end()].strip()
        if piece:
            first = start + line[start:].index(piece[0])
            out.append(Sentence(piece, base + first, base + first + len(piece)))
        start = m.end()
    rest = line[start:].strip()
    if rest:
        first = start + line[start:].index(rest[0])
        out.append(Sentence(rest, base + first, base + first + len(rest)))
    return out


def _ends_sentence(line: str, start: int, m: re.Match[str], capital_starts: bool) -> bool:
    """Whether the lone full stop `m` ends a sentence (see the module docstring)."""
    following = line[m.end() :].lstrip()[:1]
    if capital_starts and following.isupper():
        return True
    before = _WORD_BEFORE.search(line[start : m.start() + 1])
    word = before.group(1).lower().rstrip(".") if before else ""
    if word in ABBREVIATIONS or len(word) == 1 and word.isalpha() and word not in "al":
        return False
    if _DOTTED_ACRONYM.fullmatch(word):
        return not (following.isdigit() or following.islower())
    return True
