"""The FAQ router's training data, from what the shop already collects, and the operator's queue.

Three signals say which FAQ entry answers a question (`retrieval.faq_labels` stores them):
- a thumbs-up on a chat reply that quoted an FAQ entry: the question is the turn's message (the
  turn log, by reply id), the entry the one the reply cited ("[faq-returns-window]" in the text the
  widget sends back, or the feedback's intent when a client sends the entry id there);
- an agent accepting or editing a suggestion: the question is the ticket the suggestion answered,
  the entry the suggestion's intent (agent assist suggests from FAQ entries by id);
- an operator assigning an unanswered question (refused, handed off, or an FAQ answer rated down)
  to an entry, from the queue `unanswered` builds (grouped by meaning, newest first).

The latest verdict on a reply or suggestion counts: an agent's accept changed to a reject later
labels nothing. Texts are as the stores keep them (scrubbed of contact details on the way in).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.stores.feedback import StoredFeedback
from retrieval.faq_labels import FAQLabel
from retrieval.text import tokenize

_CITED = re.compile(r"\[([^\[\]\s]{1,200})\]")
# Why a question is in the operator's queue, by the turn's action (or its rating).
_WHY = {"refuse": "refused", "handoff": "handed off", "down": "answer rated down"}
SAME_QUESTION = 0.75  # cosine of two questions' embeddings above which they are one group
SAME_WORDS = 0.5  # without an embedding: the share of shared words (Jaccard) instead


def _latest(feedback: Iterable[StoredFeedback], kind: str) -> dict[str, StoredFeedback]:
    """The latest verdict per item of one kind (the store lists them in id order)."""
    latest: dict[str, StoredFeedback] = {}
    for item in sorted((f for f in feedback if f.kind == kind), key=lambda f: f.id):
        latest[item.item_id] = item
    return latest


def cited_entry(item: StoredFeedback, entries: Collection[str]) -> str | None:
    """The FAQ entry a rated chat reply answered with: its intent when that names an entry, else
    the first entry id cited in the reply's text."""
    if item.intent in entries:
        return item.intent
    return next((m for m in _CITED.findall(item.text) if m in entries), None)


def chat_labels(
    feedback: Iterable[StoredFeedback], turns: Sequence[Mapping[str, Any]], entries: Collection[str]
) -> list[FAQLabel]:
    """A label per FAQ reply whose latest rating is a thumbs-up, with its turn's question."""
    by_reply = {str(t["response_id"]): t for t in turns}
    out = []
    for reply, item in _latest(feedback, "chat").items():
        turn = by_reply.get(reply)
        entry = cited_entry(item, entries)
        if item.verdict != "up" or turn is None or turn.get("route") != "faq" or entry is None:
            continue
        if str(turn.get("message", "")).strip():
            out.append(FAQLabel.make(str(turn["message"]), entry, "chat", reply))
    return out


def suggestion_labels(
    feedback: Iterable[StoredFeedback], ticket_of: Callable[[str], str | None], entries: Collection[str]
) -> list[FAQLabel]:
    """A label per suggestion whose latest verdict is accept or edit: its ticket, its entry.
    `ticket_of(suggestion_id)` is the (scrubbed) ticket the suggestion answered, None if unknown."""
    out = []
    for suggestion, item in _latest(feedback, "suggest").items():
        if item.verdict not in ("accept", "edit") or item.intent not in entries:
            continue
        ticket = (ticket_of(suggestion) or "").strip()
        if ticket:
            out.append(FAQLabel.make(ticket, item.intent, "suggest", suggestion))
    return out


@dataclass
class Unanswered:
    """A question the assistant did not answer well: `id` is "t" + its turn-log row id."""

    id: str
    question: str
    created: str
    why: str


@dataclass
class QuestionGroup:
    """Questions of one meaning, newest first: the operator assigns them together."""

    questions: list[Unanswered] = field(default_factory=list)

    @property
    def example(self) -> Unanswered:
        return self.questions[0]

    @property
    def ids(self) -> list[str]:
        return [q.id for q in self.questions]


def turn_id(question_id: str) -> int | None:
    """The turn-log row id of a queue id ("t42" or "42"), None when it is not one."""
    text = question_id.strip().lower().removeprefix("t")
    return int(text) if text.isdigit() else None


def unanswered(
    turns: Sequence[Mapping[str, Any]],
    feedback: Iterable[StoredFeedback],
    *,
    done: Collection[str] = (),
) -> list[Unanswered]:
    """Refused and handed-off turns, and FAQ replies whose latest rating is a thumbs-down, newest
    first; `done` holds queue ids already assigned (they leave the queue)."""
    down = {reply for reply, item in _latest(feedback, "chat").items() if item.verdict == "down"}
    out = []
    for turn in sorted(turns, key=lambda t: -int(t["id"])):
        qid = f"t{turn['id']}"
        why = _WHY.get(str(turn.get("action")))
        if why is None and turn.get("route") == "faq" and str(turn.get("response_id")) in down:
            why = _WHY["down"]
        message = str(turn.get("message", "")).strip()
        if why is None or not message or qid in done:
            continue
        out.append(Unanswered(qid, message, str(turn.get("created", "")), why))
    return out


def group_questions(
    questions: Sequence[Unanswered], embed: Callable[[list[str]], Any] | None = None
) -> list[QuestionGroup]:
    """Questions of the same meaning together, greedily in the order given (newest first), so the
    groups come newest first too: by embedding cosine >= SAME_QUESTION when `embed` is given, else
    by shared words (Jaccard >= SAME_WORDS)."""
    if not questions:
        return []
    if embed is not None:
        vectors = np.asarray(embed([q.question for q in questions]), dtype=np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        threshold = SAME_QUESTION

        def similarity(i: int, head: int) -> float:
            return float(vectors[head] @ vectors[i])

    else:
        words = [set(tokenize(q.question)) for q in questions]
        threshold = SAME_WORDS

        def similarity(i: int, head: int) -> float:
            union = words[i] | words[head]
            return len(words[i] & words[head]) / len(union) if union else 1.0

    # Each question joins the group whose first question is most similar, if similar enough.
    groups: list[QuestionGroup] = []
    heads: list[int] = []
    for i, question in enumerate(questions):
        sims = [similarity(i, h) for h in heads]
        best = max(range(len(sims)), key=sims.__getitem__) if sims else -1
        if best >= 0 and sims[best] >= threshold:
            groups[best].questions.append(question)
        else:
            heads.append(i)
            groups.append(QuestionGroup([question]))
    return groups


def operator_labels(
    question_ids: Sequence[str], entry_id: str, turns: Sequence[Mapping[str, Any]]
) -> tuple[list[FAQLabel], list[str]]:
    """Labels assigning the queued questions to `entry_id`, and the ids not found in the turn log."""
    by_id = {int(t["id"]): t for t in turns}
    labels, missing = [], []
    for qid in question_ids:
        row = turn_id(qid)
        turn = by_id.get(row) if row is not None else None
        message = str(turn.get("message", "")).strip() if turn is not None else ""
        if not message:
            missing.append(qid)
            continue
        labels.append(FAQLabel.make(message, entry_id, "operator", f"t{row}"))
    return labels, missing
