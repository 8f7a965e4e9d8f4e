"""Offline evaluation of whole chat turns (routing, citations, actions, the verifier, latency).

Three kinds of input, all plain files so an independent set in the same format can be run too:
- labelled questions (Bitext's `question,intent` layout): did the turn route to the FAQ and cite
  the entry named by the intent, or, refusing, offer it among the questions it suggests?
- unanswerable questions (a `question` column): did the assistant refuse or hand off, citing nothing?
- scripted dialogues (JSONL, one dialogue a line): each turn's expected action, route and cited ids;
  the response `state` is echoed into the next turn exactly as a client would. A folder of JSONL
  files is one run with a pass rate per file (`by_set`), so a new set is measured beside the old.

The answers are whatever `ChatService` says, so the same numbers hold for the UI and the API.
"""

from __future__ import annotations

import csv
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from assistant.chat.followup import ConversationState
from assistant.chat.protocol import Action, ChatRequest, ChatResponse, Route
from assistant.chat.service import ChatService
from assistant.errors import BadInput
from retrieval.evaluate import percentile


class Expect(BaseModel):
    action: Action | None = Field(default=None, description="answer, refuse or handoff")
    route: Route | None = None
    cites: list[str] | None = Field(default=None, description="Exactly these ids cited, in any order")
    cites_any: list[str] | None = Field(default=None, description="At least one of these ids cited")
    not_cites: list[str] = Field(default_factory=list, description="None of these ids may be cited")
    not_contains: list[str] = Field(default_factory=list, description="Strings the reply must not contain")
    contains: list[str] = Field(
        default_factory=list, description="Strings the reply must contain (case-insensitive)"
    )


class Turn(BaseModel):
    message: str
    expect: Expect = Field(default_factory=Expect)


class Dialogue(BaseModel):
    id: str
    customer_id: str | None = None
    turns: list[Turn] = Field(min_length=1)
    set: str = Field(default="", description="The file it came from (its stem), for per-set numbers")


class EvalDataError(BadInput):
    """An evaluation file is malformed; the message names the file and line."""


def load_dialogues(path: Path) -> list[Dialogue]:
    """The dialogues of a JSONL file, or of every `*.jsonl` file in a folder (sorted by name)."""
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    out = []
    for file in files:
        for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip() and not line.lstrip().startswith("//"):
                try:
                    dialogue = Dialogue.model_validate_json(line)
                except ValidationError as exc:
                    raise EvalDataError(f"{file}:{n}: not a dialogue ({exc.errors()[0]['msg']})") from exc
                out.append(dialogue if dialogue.set else dialogue.model_copy(update={"set": file.stem}))
    if not out:
        raise EvalDataError(f"{path} holds no dialogues")
    return out


def load_questions(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "question" not in reader.fieldnames:
            raise EvalDataError(f"{path} needs a 'question' column (has {reader.fieldnames})")
        return [row["question"] for row in reader if row.get("question", "").strip()]


def check_turn(response: ChatResponse, expect: Expect) -> list[str]:
    """What about this response differs from the expectation (empty: the turn passed)."""
    cited = {c.id for c in response.citations}
    problems = []
    if expect.action and response.action != expect.action:
        problems.append(f"action {response.action} != {expect.action}")
    if expect.route and response.route != expect.route:
        problems.append(f"route {response.route} != {expect.route}")
    if expect.cites is not None and cited != set(expect.cites):
        problems.append(f"cited {sorted(cited)} != {sorted(expect.cites)}")
    if expect.cites_any is not None and not cited & set(expect.cites_any):
        problems.append(f"cited {sorted(cited)}, none of {expect.cites_any}")
    if leaked := cited & set(expect.not_cites):
        problems.append(f"cited forbidden {sorted(leaked)}")
    text = response.text.lower()
    problems += [f"reply contains {s!r}" for s in expect.not_contains if s.lower() in text]
    problems += [f"reply lacks {s!r}" for s in expect.contains if s.lower() not in text]
    return problems


class _Recorder:
    """Latency and verifier numbers over every turn run."""

    def __init__(self, chat: ChatService) -> None:
        self.chat = chat
        self.latencies: list[float] = []
        self.first_text: list[float] = []
        self.checked = self.flagged = self.leaked = self.fallbacks = 0
        self.caught: list[dict[str, Any]] = []

    def ask(self, request: ChatRequest) -> ChatResponse:
        start = time.perf_counter()
        response: ChatResponse | None = None
        first_text: float | None = None
        for event in self.chat.stream(request):
            if event.type == "delta" and first_text is None:
                first_text = (time.perf_counter() - start) * 1000
            if event.response is not None:
                response = event.response
        if response is None:
            raise RuntimeError("the chat stream ended without a response")
        self.latencies.append((time.perf_counter() - start) * 1000)
        self.first_text.append(first_text if first_text is not None else self.latencies[-1])
        report = response.verifier
        if report.checked:
            self.checked += 1
            self.fallbacks += report.fallback
            if report.unsupported:
                self.flagged += 1
                self.leaked += any(span in response.text for span in report.unsupported)
                if len(self.caught) < 12:  # what the verifier stopped, to judge how strict it is
                    self.caught.append({"message": request.message, "unsupported": report.unsupported})
        return response

    def summary(self) -> dict[str, Any]:
        return {
            "turns": len(self.latencies),
            "latency_p50_ms": round(percentile(self.latencies, 0.5), 1),
            "latency_p95_ms": round(percentile(self.latencies, 0.95), 1),
            "first_text_p50_ms": round(percentile(self.first_text, 0.5), 1),
            "first_text_p95_ms": round(percentile(self.first_text, 0.95), 1),
            "model_turns": self.checked,
            "raw_text_unsupported_rate": round(self.flagged / self.checked, 4) if self.checked else None,
            "unsupported_reaching_reply": self.leaked,
            "template_fallback_rate": round(self.fallbacks / self.checked, 4) if self.checked else None,
            "caught": self.caught,
        }


def evaluate_chat(
    chat: ChatService,
    *,
    questions: Sequence[tuple[str, str]] = (),
    unanswerable: Sequence[str] = (),
    dialogues: Sequence[Dialogue] = (),
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    rec = _Recorder(chat)
    result: dict[str, Any] = {}
    if questions:
        routes: Counter[str] = Counter()
        faq_routed = cited_right = offered_right = 0
        for text, intent in questions:
            response = rec.ask(ChatRequest(message=text))
            routes[response.route] += 1
            faq_routed += response.route == "faq"
            cited_right += bool(response.citations) and response.citations[0].id == intent
            offered_right += any(s.id == intent for s in response.suggestions)
            if progress:
                progress(1)
        n = len(questions)
        result["questions"] = {
            "n": n,
            "faq_route_accuracy": round(faq_routed / n, 4),
            "cites_right_entry": round(cited_right / n, 4),
            # refused, but the right entry is among the questions offered (one click to its answer)
            "offers_right_entry": round(offered_right / n, 4),
            "reaches_right_entry": round((cited_right + offered_right) / n, 4),
            "routes": dict(routes.most_common()),
        }
    if unanswerable:
        declined = offered = 0
        slipped: list[str] = []
        for text in unanswerable:
            response = rec.ask(ChatRequest(message=text))
            ok = response.action in ("refuse", "handoff") and not response.citations
            declined += ok
            offered += bool(response.suggestions)
            if not ok:
                slipped.append(text)
            if progress:
                progress(1)
        result["unanswerable"] = {
            "n": len(unanswerable),
            "refusal_rate": round(declined / len(unanswerable), 4),
            "offered_questions_rate": round(
                offered / len(unanswerable), 4
            ),  # refused, with FAQ questions offered
            "answered": slipped[:20],
        }
    if dialogues:
        passed_turns = total_turns = passed_dialogues = 0
        failures = []
        per_set: dict[str, list[int]] = {}  # set -> [dialogues, passed, turns, turns passed]
        for dialogue in dialogues:
            state: ConversationState | None = None
            ok = True
            tally = per_set.setdefault(dialogue.set, [0, 0, 0, 0])
            for i, turn in enumerate(dialogue.turns):
                response = rec.ask(
                    ChatRequest(message=turn.message, customer_id=dialogue.customer_id, state=state)
                )
                state = response.state
                problems = check_turn(response, turn.expect)
                total_turns += 1
                passed_turns += not problems
                tally[2] += 1
                tally[3] += not problems
                if problems:
                    ok = False
                    failures.append(
                        {
                            "set": dialogue.set,
                            "dialogue": dialogue.id,
                            "turn": i + 1,
                            "message": turn.message,
                            "problems": problems,
                        }
                    )
            passed_dialogues += ok
            tally[0] += 1
            tally[1] += ok
            if progress:
                progress(1)
        result["dialogues"] = {
            "n": len(dialogues),
            "turns": total_turns,
            "turn_pass_rate": round(passed_turns / total_turns, 4),
            "dialogue_pass_rate": round(passed_dialogues / len(dialogues), 4),
            "failures": failures,
        }
        if len(per_set) > 1:
            result["dialogues"]["by_set"] = {
                name: {
                    "n": n,
                    "turns": turns,
                    "turn_pass_rate": round(turns_ok / turns, 4),
                    "dialogue_pass_rate": round(ok / n, 4),
                }
                for name, (n, ok, turns, turns_ok) in sorted(per_set.items())
            }
    result["turns"] = rec.summary()
    if rec.latencies:
        result["turns"]["latency_mean_ms"] = round(statistics.fmean(rec.latencies), 1)
    return result
