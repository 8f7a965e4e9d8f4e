"""Checks for a reply an agent may send (agent-assist drafts): what a model must not add.

A draft may paraphrase the shop's answer (an agent reads it before sending), so unlike a chat
sentence it is not held to a closed vocabulary. It is held to what would hurt a customer if the
agent missed it: a number (amount, days, percentage, order number), number word, contact detail or
name the sources do not hold, and degenerate text.
`{{Placeholders}}` are fine anywhere: they are the agent's to fill.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assistant.grounding.pii import find_pii
from assistant.grounding.sentences import split_sentences
from assistant.grounding.verify import verify

# {{Order Number}}, and the [Customer Support Phone Number] form some help desks use.
PLACEHOLDER = re.compile(r"\{\{\s*[^{}]+?\s*\}\}|\[[A-Z][\w ]{2,40}\]")
_LIST_MARKER = re.compile(r"\s*(?:\d{1,2}[.)]|[-*\u2022])\s+")
_URL_RE = re.compile(
    r"\b(?:https?://|www\.)\S+|\b[a-z0-9-]+\.(?:com|net|org|io|co|shop|store)\b", re.IGNORECASE
)
# Number words a reply uses as plain English ("one of our agents"), not as a quantity.
_PLAIN_NUMBER_WORDS = frozenset({"one"})


def _contacts(text: str) -> list[tuple[str, str]]:
    """(kind, text) of the e-mails, phone numbers and links in `text`; links are looked for outside
    the e-mails and phone numbers (an address's domain is not a link)."""
    pii = find_pii(text, {"email", "phone"})
    rest = text
    for f in pii:
        rest = rest.replace(f.text, " ")
    return [(f.kind, f.text) for f in pii] + [("url", url) for url in _URL_RE.findall(rest)]


def invented_contacts(reply: str, prompt: str) -> list[str]:
    """Emails, phone numbers and URLs in the reply that the prompt did not contain."""
    found = [text for _, text in _contacts(reply)]
    return [x for x in found if x.lower() not in prompt.lower()]


def check_draft(
    text: str,
    sources: Sequence[str],
    *,
    answer: str = "",
    min_words: int = 8,
    max_words: int = 260,
) -> list[str]:
    """What is wrong with a drafted reply (empty when it may be suggested).

    `sources` are the texts the draft may draw on (the scrubbed ticket, the FAQ answer, the shop's
    name and known values). Every number, e-mail and link of `answer` (the shop's FAQ answer) must
    be in the draft: a reply that leaves out "within 30 days" or the support address is generic
    help, not the shop's answer. Whether the draft is about the right entry is the caller's check
    (the assist service asks its FAQ retriever), since shared words ("order", "account") cannot tell.
    """
    problems: list[str] = []
    words = text.split()
    if len(words) < min_words:
        problems.append(f"too short ({len(words)} words)")
    if len(words) > max_words:
        problems.append(f"too long ({len(words)} words)")
    for claim in claims(text, sources):
        problems += claim.problems
    # A looping model repeats whole spans; six words in a row twice is a loop, not a turn of phrase
    # ("please follow these steps" legitimately recurs in a long reply).
    problems += [f"leaves out the answer's {fact}" for fact in answer_facts(answer) if fact not in text]
    problems += [f"asks the customer for their {secret}" for secret in asked_secrets(text)]
    grams = [tuple(w.lower() for w in words[i : i + 6]) for i in range(len(words) - 5)]
    if len(grams) - len(set(grams)) > 1:
        problems.append("repeats itself")
    return list(dict.fromkeys(problems))


# A reply must never ask for a credential: help-desk replies the draft adapter learned from ask for
# "your username, password, and any other relevant details" when they lack the steps.
_SECRET = re.compile(
    r"\b(password|passcode|pin(?: code| number)?|cvv|cvc|security code|(?:full )?card number)s?\b",
    re.IGNORECASE,
)
_ASK = re.compile(
    r"\b(provide|share|send|give|tell|reply with)\b",  # not "confirm" or "enter": steps say "confirm your new password"
    re.IGNORECASE,
)
_NEVER = re.compile(r"\b(?:never|not|no one|nobody)\b|n't\b", re.IGNORECASE)  # "don't share ..." too


def asked_secrets(text: str) -> list[str]:
    """The credentials a reply asks the customer to give ("please provide ... your password"); a
    sentence that warns against sharing one ("never share your password") asks for nothing."""
    found: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
        secret = _SECRET.search(sentence)
        ask = _ASK.search(sentence)
        warned = _NEVER.search(sentence[max(0, ask.start() - 16) : ask.start()]) if ask else None
        if secret and ask and ask.start() < secret.start() and not warned:  # "never share", "don't send"
            found.append(secret.group(1).lower())
    return list(dict.fromkeys(found))


@dataclass
class Claim:
    """One sentence of a reply: its line, the list marker that line starts with, and what in the
    sentence the sources do not hold."""

    line: int
    marker: str
    text: str
    problems: list[str]


_FACT = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\bhttps?://\S+|\bwww\.\S+|\d+(?:[.,]\d+)?")


def answer_facts(answer: str) -> list[str]:
    """The numbers, e-mails and links of an answer, in order, each once."""
    return list(dict.fromkeys(m.rstrip(".,") for m in _FACT.findall(answer)))


# The contact a placeholder asks for, by a word of its name ({{Customer Support Email}},
# {{Support Phone Number}}, {{Website URL}}).
_CONTACT_KINDS = ("email", "phone", "url")


def contact_values(answer: str, names: Sequence[str]) -> dict[str, str]:
    """Values for the contact placeholders among `names` that the answer itself states: a draft
    trained on help-desk replies writes {{Customer Support Email}} where the shop's answer gives the
    address, and the address is the answer's, not the model's. A kind the answer states more than
    once differently (two phone numbers) stays a placeholder: which one is meant is the agent's call.
    Contacts are found as `invented_contacts` finds them, so a filled value is one the check knows."""
    values: dict[str, str] = {}
    contacts = _contacts(answer)
    for name in names:
        kind = next((k for k in _CONTACT_KINDS if k in name.lower()), None)
        if kind is None:
            continue
        found = list(dict.fromkeys(text.rstrip(".,") for k, text in contacts if k == kind))
        if len(found) == 1:
            values[name] = found[0]
    return values


def claims(text: str, sources: Sequence[str]) -> list[Claim]:
    """Each sentence of `text`, checked with placeholders and list markers set aside: numbers,
    number words, contacts and names absent from the sources. Training targets are cleaned with it
    (finetune.data.build_draft), so drafts are trained on the claims they are later checked for."""
    blob = "\n".join(sources)
    out: list[Claim] = []
    for n, line in enumerate(text.splitlines()):
        match = _LIST_MARKER.match(line)
        marker = match.group(0) if match else ""
        done, rest = split_sentences(line[len(marker) :] + " ")
        for sentence in [*done, rest]:
            if not sentence.strip():
                continue
            plain = PLACEHOLDER.sub(" ", sentence)
            found = [f"contact: {c}" for c in invented_contacts(plain, blob)]
            found += [u for u in verify(plain, sources).unsupported if u.lower() not in _PLAIN_NUMBER_WORDS]
            out.append(Claim(n, marker, sentence.strip(), found))
    return out


def drop_unsupported(
    text: str, sources: Sequence[str], *, keep_lists_whole: bool = False
) -> tuple[str | None, list[Claim]]:
    """`text` without its sentences that fail `claims`, numbered list items renumbered, and the
    dropped claims. With `keep_lists_whole`, a failing list item returns None instead: a step
    removed from a procedure leaves instructions that are wrong, not merely shorter."""
    kept: dict[int, list[str]] = {}
    markers: dict[int, str] = {}
    dropped: list[Claim] = []
    for claim in claims(text, sources):
        markers[claim.line] = claim.marker
        if not claim.problems:
            kept.setdefault(claim.line, []).append(claim.text)
            continue
        if keep_lists_whole and claim.marker:
            return None, [claim]
        dropped.append(claim)
    lines: list[str] = []
    item = 0
    for n in range(len(text.splitlines())):
        if n not in markers:  # a blank line
            if lines and lines[-1]:
                lines.append("")
            continue
        if n not in kept:
            continue
        marker = markers[n]
        if marker.strip()[:1].isdigit():
            item += 1
            marker = re.sub(r"\d+", str(item), marker, count=1)
        lines.append(marker + " ".join(kept[n]))
    return "\n".join(lines).strip(), dropped


@functools.cache
def _rouge_l_scorer() -> Any:
    """Built on first use: importing rouge-score (and its nltk stemmer) takes about two seconds."""
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 of a candidate against one reference (Google's rouge-score, Porter-stemmed tokens,
    one LCS over the whole text; see `finetune.evaluate`); 0.0 when either side has no tokens. The
    evaluations score replies with it, and the assist service's consensus choice compares a ticket's
    draft candidates with it."""
    return float(_rouge_l_scorer().score(reference, candidate)["rougeL"].fmeasure)
