"""Check the model's prose against the facts it was given.

The model is only allowed to write connecting sentences; prices, numbers, names, addresses and
links must come from the cited sources. Anything in its text that the sources do not contain is
reported as an unsupported span, and the caller drops or replaces that text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from assistant.grounding.sentences import sentence_spans
from assistant.grounding.sentences import split_sentences as split_sentences  # re-exported for the chat
from assistant.grounding.vocabulary import ALWAYS_OK
from retrieval.text import tokenize

# Words an introductory or closing sentence may use without a source: greetings, hedges, offers of
# further help and generic nouns.
INTRO_VOCABULARY = frozenset(
    tokenize(
        """here there sure good great question happy help glad course absolutely certainly let
    some few couple several options option ideas idea picks pick choices choice selection products product items item
    things thing that this these those which might may could would should will can fit fits suit suits match matches
    matching like love enjoy perfect nice lovely handy useful popular favourite favorite look take check find found
    out well how works work what need needs looking want wanted asked ask for you your yours our we us it they
    answer answers policy list info information details detail below following next shows showing show way ways
    keep stay cosy cozy comfortable warm dry happy trip adventure day everyday just right best top really quite
    also too more most plenty range bit lot lots kind kinds type types style styles hope hopefully helps helped
    know anything else other questions question unclear narrow down size sizes colour colours color colors
    further glad assist feel free tell me something different another again any all one ones hear understand
    you're you'll you've i'll i'm i've we're we'll we've it's that's here's there's let's select choose
    interested interest during process specific time sure okay thanks thank assistance amount
    see similar suggestion suggestions recommend recommendation shop store customer customers service assistant"""
    )
)
_NUMBER = re.compile(r"(?<![\w.])[$€£]?\d+(?:[.,]\d+)*%?")
_URL = re.compile(r"\b(?:https?://|www\.)\S+|\b[\w.-]+\.(?:com|net|org|io|shop|store|example)\b", re.I)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# "free" is a price ("free returns", "toll-free"), but "feel free to reach out" closes most help-desk
# replies (flagging it dropped 791 such sentences from the draft training targets), and "hassle-free"
# promises nothing countable.
_WORD_NUMBERS = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|thousand|dozen|half|percent|(?<!feel )(?<!hassle-)(?<!worry-)(?<!stress-)free)\b",
    re.I,
)


def _norm_number(token: str) -> str:
    value = token.strip("$€£%").replace(",", "")
    try:
        return f"{float(value):g}"
    except ValueError:
        return value


@dataclass
class Verdict:
    unsupported: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unsupported


def verify(
    text: str, sources: Iterable[str], names: Iterable[str] = (), closed_vocabulary: bool = False
) -> Verdict:
    """Flag numbers, number words, e-mails, links and known names in `text` absent from `sources`.

    `names` are the catalogue's brands and product titles: a name the model mentions must be one
    of the cited items, or it is talking about something the customer was not shown. With
    `closed_vocabulary`, every content word must also come from the sources or from the small
    generic vocabulary of introductions ("here are some options that might suit you"): an intro
    sentence has no business naming things the shop did not show.
    """
    blob = " ".join(sources).lower()
    source_numbers = {_norm_number(m) for m in _NUMBER.findall(blob)}
    verdict = Verdict()
    for match in _NUMBER.findall(text):
        if _norm_number(match) not in source_numbers:
            verdict.unsupported.append(match)
    for match in _WORD_NUMBERS.findall(text):
        if match.lower() not in blob:
            verdict.unsupported.append(match)
    rest = text
    for pattern in (_EMAIL, _URL):
        for match in pattern.findall(rest):
            if match.lower().rstrip(".,") not in blob:
                verdict.unsupported.append(match)
        rest = pattern.sub(" ", rest)  # an e-mail's domain is not a second finding
    for word in _proper_nouns(text):
        if word.lower() not in blob:
            verdict.unsupported.append(word)
    content = [w for w in re.findall(r"[a-z']+", text.lower()) if len(w) > 3]
    repeated = sorted({w for w in content if content.count(w) >= 3})
    if repeated:
        verdict.unsupported.append("repetition: " + ", ".join(repeated))
    if closed_vocabulary:
        source_words = set(tokenize(blob, keep_stopwords=True))
        foreign = [w for w in tokenize(text) if w not in source_words and w not in INTRO_VOCABULARY]
        verdict.unsupported += foreign
    lowered = text.lower()
    for name in names:
        key = name.lower().strip()
        if len(key) >= 3 and re.search(rf"\b{re.escape(key)}\b", lowered) and key not in blob:
            verdict.unsupported.append(name)
    return verdict


def _proper_nouns(text: str) -> list[str]:
    """Capitalised words that do not start a sentence: names of places, brands, products, people."""
    out = []
    for sentence in sentence_spans(text, colon=True, capital_starts=True, bullets=False):
        words = re.findall(r"[\w'&-]+", sentence.text)
        for word in words[1:]:
            if word[:1].isupper() and word not in ALWAYS_OK:
                out.append(word)
    return out
