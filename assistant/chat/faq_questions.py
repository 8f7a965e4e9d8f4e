"""Customer questions for FAQ entries, written by the generator (doc2query for a cold FAQ).

A shop starting out has answers but no example questions, and routing by answer text alone misses
how customers ask ("help me using the pro account"). The generator writes questions per entry;
each is kept only if it reads like a question (length, no copied answer) and the cold FAQ search
still finds its own entry among the top `keep_top` (round-trip filtering, as in doc2query--), so
a question that drifted to another topic does not teach the router the wrong entry. The default
keeps only first-ranked questions: with SmolLM2-135M as the writer, looser filtering hurt more
(Bitext cold dense 0.741; with top-3 questions 0.626, with top-1 0.709). The kept
questions are example phrasings: `eval faq --examples`, or the `examples` column of a FAQ file.
"""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.generation.base import ChatMessage, GenerationRequest, Generator, generate
from assistant.grounding.spreadsheet import safe_row
from prompts import render_messages
from retrieval.index import memory_faq_search
from retrieval.schema import FAQEntry

_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s*")
_MIN_WORDS, _MAX_WORDS = 2, 25


@dataclass
class QuestionSet:
    """Kept (question, entry id) pairs and why the rest were dropped."""

    questions: list[tuple[str, str]] = field(default_factory=list)
    generated: int = 0
    dropped: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def per_entry(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, entry_id in self.questions:
            counts[entry_id] = counts.get(entry_id, 0) + 1
        return counts

    def write_csv(self, path: Path) -> None:
        """question,intent rows: the layout `eval faq --examples` and `eval chat --examples` read."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["question", "intent"])
            writer.writerows(safe_row(list(q)) for q in self.questions)
        tmp.replace(path)  # a failed run never leaves half a file where a good one was


def parse_questions(text: str) -> list[str]:
    """One candidate per line, bullets and numbering removed."""
    out = []
    for line in text.splitlines():
        line = _BULLET.sub("", line).strip().strip("\"'").strip()
        if line:
            out.append(line)
    return out


class FAQQuestionWriter:
    def __init__(
        self,
        generator: Generator,
        *,
        per_request: int = 5,
        requests_per_entry: int = 6,
        keep_top: int = 1,
        temperature: float = 0.9,
        max_new_tokens: int = 120,
        workers: int = 8,
        seed: int = 0,
    ) -> None:
        self.generator = generator
        self.per_request = per_request
        self.requests_per_entry = requests_per_entry
        self.keep_top = keep_top
        self.temperature = temperature
        self.max_new_tokens = max_new_tokens
        self.workers = workers
        self.seed = seed

    def _ask(self, entry: FAQEntry, seed: int) -> str:
        messages = render_messages(
            "faq/questions", topic=entry.question, answer=entry.answer, n=self.per_request
        )
        request = GenerationRequest(
            messages=[ChatMessage.model_validate(m) for m in messages],
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            seed=seed,
        )
        return generate(self.generator, request)

    def run(
        self,
        entries: Sequence[FAQEntry],
        embedding_function: Any,
        progress: Callable[[int], None] | None = None,
    ) -> QuestionSet:
        rng = random.Random(self.seed)
        jobs = [(e, rng.randrange(2**31)) for e in entries for _ in range(self.requests_per_entry)]

        def ask(job: tuple[FAQEntry, int]) -> tuple[FAQEntry, str]:
            reply = self._ask(*job)
            if progress:
                progress(1)
            return job[0], reply

        with ThreadPoolExecutor(max_workers=self.workers) as pool:  # engines batch concurrent requests
            replies = list(pool.map(ask, jobs))
        result = QuestionSet()
        candidates: list[tuple[str, str]] = []
        seen: set[str] = set()
        for entry, reply in replies:
            answer = entry.answer.lower()
            for line in parse_questions(reply):
                result.generated += 1
                words = len(line.split())
                key = " ".join(line.lower().split())
                if not _MIN_WORDS <= words <= _MAX_WORDS:
                    result.drop("length")
                elif ":" in line or key in answer or key == entry.question.lower():
                    result.drop("copied the prompt")
                elif key in seen:
                    result.drop("duplicate")
                else:
                    seen.add(key)
                    candidates.append((line, entry.id))
        bare = [e.model_copy(update={"examples": []}) for e in entries]  # the cold search: entries alone
        with memory_faq_search(bare, embedding_function) as search:
            for text, entry_id in candidates:
                found = [h.entry.id for h in search.run(text, top_k=self.keep_top).hits]
                if entry_id in found:
                    result.questions.append((text, entry_id))
                else:
                    result.drop("routed to another entry")
        return result
