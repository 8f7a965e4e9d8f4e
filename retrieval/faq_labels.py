"""Labelled questions for the FAQ router: what the shop learned about which entry answers what.

Every signal the product collects is a label (question, FAQ entry id): a thumbs-up on an FAQ answer,
an agent accepting or editing a suggestion, an operator assigning an unanswered question to an
entry. They are kept in one small JSONL file in the shop home (`LabelStore`), apart from the FAQ
file a shop edits, and become the entries' example phrasings (`with_labels`) when the FAQ index is
re-synced: the nearest-phrasing router sees them at once, and the learned router (an intent
classifier over the phrasings, `retrieval.intents`) is re-fitted from them when the index reloads.

One label per (source, ref): harvesting the same feedback twice stores nothing new, and an operator
assigning a question again moves it to the new entry (the latest line wins).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from retrieval.schema import FAQEntry

Source = Literal["chat", "suggest", "operator", "import", "traffic"]
# Labels a person gave (directly or by a verdict); "traffic" labels are self-training's guesses
# (`retrieval.faq_selftrain`), replaced whole on each run and outranked by any human label.
HUMAN_SOURCES = frozenset({"chat", "suggest", "operator", "import"})
MAX_QUESTION_CHARS = 500  # a label is a question, not a ticket thread; bounds an example phrasing


class LabelError(ValueError):
    """A labels file line cannot be read, or a label names an unknown entry; says which."""


class FAQLabel(BaseModel):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    entry_id: str = Field(min_length=1, max_length=200, description="The FAQ entry that answers it")
    source: Source = Field(
        description="chat (thumbs-up), suggest (agent accepted/edited), operator, import, traffic (self-trained)",
    )
    ref: str = Field(
        min_length=1, max_length=200, description="What it came from: reply, suggestion, turn id"
    )
    created: str = Field(default="", description="When it was stored (UTC, ISO)")

    @classmethod
    def make(cls, question: str, entry_id: str, source: Source, ref: str) -> FAQLabel:
        """A label for `question`, cleaned into one example phrasing: whitespace collapsed, "|"
        (the separator of stored example phrasings) replaced, cut at `MAX_QUESTION_CHARS`."""
        text = " ".join(question.replace("|", "/").split())[:MAX_QUESTION_CHARS]
        return cls(question=text, entry_id=entry_id, source=source, ref=ref)

    @property
    def key(self) -> tuple[str, str]:
        return self.source, self.ref


class LabelStore:
    """Append-only JSONL of labels; reading keeps the latest label per (source, ref)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def all(self) -> list[FAQLabel]:
        """The labels in force, oldest first (a re-assigned question in its latest place)."""
        if not self.path.exists():
            return []
        latest: dict[tuple[str, str], FAQLabel] = {}
        for n, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                label = FAQLabel.model_validate_json(line)
            except ValidationError as exc:
                raise LabelError(f"{self.path}:{n}: not a label ({exc.errors()[0]['msg']})") from exc
            latest.pop(label.key, None)
            latest[label.key] = label
        return list(latest.values())

    def add(self, labels: Iterable[FAQLabel]) -> list[FAQLabel]:
        """Store the labels that are new or change an entry; returns those stored."""
        with self._lock:
            known = {label.key: label for label in self.all()}
            now = datetime.now(UTC).isoformat(timespec="seconds")
            fresh: dict[tuple[str, str], FAQLabel] = {}
            for label in labels:
                old = known.get(label.key)
                if old is not None and (old.entry_id, old.question) == (label.entry_id, label.question):
                    continue
                fresh[label.key] = label.model_copy(update={"created": label.created or now})
            if fresh:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as out:
                    for label in fresh.values():
                        out.write(label.model_dump_json() + "\n")
        return list(fresh.values())

    def replace_source(self, source: Source, labels: Iterable[FAQLabel]) -> int:
        """Make `labels` the only ones of `source` (a self-training run supersedes the last one);
        labels of other sources are kept as they are. The file is rewritten atomically; returns
        how many labels of `source` it now holds."""
        from retrieval.files import write_atomic

        fresh = [label for label in labels if label.source == source]
        with self._lock:
            kept = [label for label in self.all() if label.source != source]
            now = datetime.now(UTC).isoformat(timespec="seconds")
            lines = [label.model_dump_json() for label in kept]
            lines += [
                label.model_copy(update={"created": label.created or now}).model_dump_json()
                for label in fresh
            ]
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, "".join(line + "\n" for line in lines))
        return len(fresh)

    def counts(self) -> dict[str, dict[str, int]]:
        """Labels per entry and source: what the router has learned from, at a glance."""
        out: dict[str, dict[str, int]] = {}
        for label in self.all():
            per = out.setdefault(label.entry_id, {})
            per[label.source] = per.get(label.source, 0) + 1
        return dict(sorted(out.items()))


def check_entries(labels: Sequence[FAQLabel], entries: Mapping[str, FAQEntry] | Iterable[str]) -> None:
    """Raise LabelError when a label names an entry the FAQ does not have (a typo, a removed entry)."""
    known = set(entries)
    unknown = sorted({label.entry_id for label in labels} - known)
    if unknown:
        raise LabelError(
            f"unknown FAQ entr{'y' if len(unknown) == 1 else 'ies'}: {', '.join(unknown[:10])}; "
            f"the FAQ has e.g. {', '.join(sorted(known)[:5])}"
        )


def with_labels(entries: Sequence[FAQEntry], labels: Sequence[FAQLabel]) -> list[FAQEntry]:
    """The entries with each labelled question as an example phrasing of its entry.

    A labelled question already among any entry's examples (from an earlier sync, or assigned
    elsewhere before) is taken out first, so a re-assigned question moves, and a self-trained
    ("traffic") label gives way to a person's label of the same question; the entry's own
    examples keep their order, labels follow in the order given. Labels naming an entry that is
    not here are left out (see `check_entries` to refuse them instead)."""
    human = {label.question.casefold() for label in labels if label.source in HUMAN_SOURCES}
    # A question self-training guessed and a person labelled goes where the person said.
    labels = [
        label for label in labels if label.source in HUMAN_SOURCES or label.question.casefold() not in human
    ]
    labelled = {label.question.casefold() for label in labels}
    by_entry: dict[str, list[str]] = {}
    for label in labels:
        by_entry.setdefault(label.entry_id, []).append(label.question)
    out = []
    for entry in entries:
        examples = [e for e in entry.examples if e.casefold() not in labelled]
        seen = {e.casefold() for e in examples} | {entry.question.casefold()}
        for question in by_entry.get(entry.id, []):
            if question.casefold() not in seen:
                seen.add(question.casefold())
                examples.append(question)
        out.append(entry.model_copy(update={"examples": examples}))
    return out


def with_examples(
    entries: Sequence[FAQEntry], labelled: Iterable[tuple[str, str]], leave_out: Iterable[str] = ()
) -> tuple[list[FAQEntry], int]:
    """The entries with labelled (question, entry id) pairs added as example phrasings, for the
    evaluations; questions in `leave_out` (the ones being asked) are skipped, since an example that
    is also a test question would grade itself. Returns the entries and how many were skipped."""
    asked = set(leave_out)
    extra: dict[str, list[str]] = {}
    skipped = 0
    for text, entry_id in labelled:
        if text in asked:
            skipped += 1
            continue
        extra.setdefault(entry_id, []).append(text)
    return [e.model_copy(update={"examples": e.examples + extra.get(e.id, [])}) for e in entries], skipped
