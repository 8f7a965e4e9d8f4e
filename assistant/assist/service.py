"""The suggest service: a ticket in, up to N ranked replies for a human agent out.

Like the chat, facts come from data and never from the model: each suggestion is an FAQ answer as
written, the order rows of the ticket's own customer, and template sentences; the policy subflow
the FAQ entry maps to adds the required agent steps in order. Candidates come from the shop's FAQ
retriever, ranked as it ranks them, deduplicated, and kept only at or above `min_confidence` (the
retriever's similarity of ticket and entry); with none left the answer is "no suggestion", as good
help desks do, rather than a weak guess. The ticket is PII-scrubbed before the retriever's
embedding model (or the optional opening-sentence model) sees it; order ids are read from the raw
text first, and looked up only for the ticket's customer, so another customer's order reads
exactly like one that does not exist.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import prompts
from assistant.assist.policy import Policies, PolicyMap, Subflow, load_policies, load_policy_map
from assistant.assist.protocol import Source, Suggestion, Suggestions, Ticket
from assistant.config import AssistSettings
from assistant.errors import BadInput
from assistant.generation.admission import carry_scope
from assistant.generation.base import GeneratorError, decode_slots
from assistant.grounding.pii import ORDER_ID_PATTERN, scrub
from assistant.stores.orders import Customer, Order, OrderSource
from prompts.tasks import draft_messages
from retrieval.schema import FAQEntry

if TYPE_CHECKING:
    from assistant.generation.base import Generator
    from retrieval.search import FAQResults

log = logging.getLogger("shopassist.assist")

# Order ids as the shop writes them (HP-ORD-50001); read from the raw ticket before scrubbing.
ORDER_ID = ORDER_ID_PATTERN
# Words an agent's opening sentence may use beyond the chat intro's vocabulary and the sources.
OPENING_WORDS = """thank thanks reaching contacting sorry hear understand apologise apologize inconvenience
    frustrating trouble glad happy help assist sort look into request question concern waiting wait patience
    refund return order package delivery account password money back"""
PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
# Why a suggestion's draft was not used though none of its candidates failed the checks.
LATE = "not done within assist.draft_budget_ms"
UNAVAILABLE = "the model is unavailable"
# Drafts of one ticket (each suggestion's candidates) run here together, so the engine decodes them in
# one batch; more than the engine's slots just wait for one.
_DRAFT_POOL = ThreadPoolExecutor(max_workers=24, thread_name_prefix="assist-draft")


def _whole_sentences(text: str) -> str:
    """A draft cut by the token limit ends at its last whole sentence."""
    if not text or text[-1] in ".!?)}\"'":
        return text
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s)", text)]
    return text[: ends[-1]] if ends else text


class TicketError(BadInput):
    """The ticket cannot be processed (empty, too long); the message says what to change."""


class FAQRetriever(Protocol):
    def run(self, query: str, *, top_k: int = 3) -> FAQResults: ...


@dataclass
class Candidate:
    entry: FAQEntry
    confidence: float


@dataclass
class Ranked:
    """The retriever's deduplicated candidates for a ticket, before the threshold."""

    scrubbed: str
    candidates: list[Candidate]


@dataclass
class _Checked:
    """A draft candidate that passed the checks: its text, the sentences removed, its index."""

    text: str
    removed: list[str]
    index: int


def _consensus(passing: Sequence[_Checked], written: Mapping[int, str]) -> _Checked:
    """The passing candidate with the highest mean ROUGE-L against the other candidates written for
    the same suggestion (passing or not: all are samples of what the model would say), the earlier
    one on a tie. Minimum Bayes risk decoding (Kumar and Byrne 2004; Freitag et al. 2022): the
    candidate the samples agree on is the one most likely close to a good reply."""
    from assistant.grounding.replies import rouge_l

    if len(passing) == 1 or len(written) < 2:
        return passing[0]

    def agreement(c: _Checked) -> float:
        others = [w for k, w in written.items() if k != c.index]
        return sum(rouge_l(c.text, w) for w in others) / len(others)

    return max(passing, key=agreement)


@dataclass
class _OrderContext:
    case: str | None = None  # found | missing | choose | ask (the assist_order template's cases)
    orders: list[Order] = field(default_factory=list)
    order_id: str = ""
    named: bool = False  # the ticket names an order: its block goes with every suggestion
    customer: Customer | None = None
    notes: list[str] = field(default_factory=list)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def dedupe(candidates: Sequence[Candidate]) -> list[Candidate]:
    """First of each FAQ entry and of each answer text (two entries with one answer are one reply)."""
    seen: set[str] = set()
    out = []
    for c in candidates:
        keys = {f"id:{c.entry.id}", f"answer:{_norm(c.entry.answer)}"}
        if keys & seen:
            continue
        seen |= keys
        out.append(c)
    return out


def check_ticket_text(text: str, max_chars: int) -> str:
    """The stripped ticket text, or a TicketError that says what to change."""
    text = (text or "").strip()
    if not text:
        raise TicketError("The ticket is empty: paste the customer's message.")
    if len(text) > max_chars:
        raise TicketError(
            f"The ticket is {len(text):,} characters long; the limit is {max_chars:,} (assist.max_ticket_chars). "
            "Paste the customer's latest message only."
        )
    return text


def apply_threshold(candidates: Sequence[Candidate], threshold: float, limit: int) -> list[Candidate]:
    """The ranked candidates at or above the threshold, at most `limit` (rank order kept)."""
    return [c for c in candidates if c.confidence >= threshold][:limit]


def fill(text: str, values: dict[str, str]) -> tuple[str, dict[str, str], list[str]]:
    """Fill `{{Name}}` placeholders known in `values` (case-insensitive); return the text, what was
    filled, and the placeholders left for the agent (first-seen order)."""
    lookup = {k.strip().lower(): (k, v) for k, v in values.items() if v}
    filled: dict[str, str] = {}
    left: list[str] = []

    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        known = lookup.get(name.lower())
        if known is None:
            left.append("{{" + name + "}}")
            return m.group(0)
        filled[name] = known[1]
        return known[1]

    return PLACEHOLDER.sub(repl, text), filled, list(dict.fromkeys(left))


def shop_values(shop_name: str, extra: dict[str, str]) -> dict[str, str]:
    """Placeholder values the shop's configuration knows (the names Bitext replies use)."""
    values = dict.fromkeys(("Website Name", "Company Name", "Company", "Store Name", "Shop Name"), shop_name)
    values.update(extra)
    return values


def personal_values(customer: Customer | None, order: Order | None) -> dict[str, str]:
    """Values from the ticket's own customer and order; feedback turns them back into placeholders."""
    values: dict[str, str] = {}
    if customer is not None:
        values["Customer Name"] = customer.name
        values["Customer First Name"] = customer.name.split()[0] if customer.name.split() else customer.name
    if order is not None:
        for name in ("Order Number", "Order ID", "Order Id", "Purchase ID", "Order Number Anonymized"):
            values[name] = order.order_id
    return values


class SuggestService:
    """One `run(ticket)` for the CLI, API and UI; `rank` + `render` separately for the evaluation."""

    def __init__(
        self,
        faq: FAQRetriever,
        orders: OrderSource,
        *,
        settings: AssistSettings | None = None,
        policies: Policies | None = None,
        policy_map: PolicyMap | None = None,
        shop_name: str = "our shop",
        generator: Callable[[], Generator] | None = None,
        adapter: str | None = None,
        draft_adapter: str | None = None,
        base_name: str = "base model",
        currency: str = "USD",
    ) -> None:
        self.faq = faq
        self.orders = orders
        self.settings = settings or AssistSettings()
        self.policies = policies if policies is not None else load_policies(self.settings.policies)
        self.policy_map = policy_map if policy_map is not None else load_policy_map(self.settings.policy_map)
        self.shop_name = shop_name
        self._generator = generator
        self.adapter = adapter
        self.draft_adapter = draft_adapter
        self.base_name = base_name
        self.currency = currency

    @classmethod
    def from_shop(cls, shop: Any) -> SuggestService:
        """The service over a `Shop` (duck-typed: the shop composes services, not the other way)."""
        from assistant.generation.adapters import AdapterRegistry, adapter_for_task, base_of

        s = shop.settings
        registry, base = AdapterRegistry.for_home(s.home), base_of(s)
        return cls(
            shop.index.faq,
            shop.orders,
            settings=s.assist,
            shop_name=s.shop.name,
            generator=lambda: shop.generator,
            adapter=adapter_for_task("cs", s.generator.task_adapters, registry, base),
            draft_adapter=adapter_for_task("draft", s.generator.task_adapters, registry, base),
            base_name=base,
        )

    # -- public ----------------------------------------------------------------------------------
    def run(self, ticket: Ticket, *, min_confidence: float | None = None) -> Suggestions:
        threshold = self.settings.min_confidence if min_confidence is None else min_confidence
        return self.render(ticket, self.rank(ticket), threshold)

    def check(self, text: str) -> str:
        return check_ticket_text(text, self.settings.max_ticket_chars)

    def rank(self, ticket: Ticket) -> Ranked:
        """Scrub the ticket, retrieve FAQ candidates (a few extra for deduplication), deduplicate."""
        scrubbed = scrub(self.check(ticket.text))
        results = self.faq.run(scrubbed, top_k=self.settings.max_suggestions + 2)
        # A calibrated search (retrieval.faq_calibration) that finds no confident match vetoes every
        # candidate, as it makes the chat refuse: confidence 0 passes no min_confidence above 0.
        veto = results.calibrated and not results.confident
        candidates = [
            Candidate(h.entry, 0.0 if veto else round(max(0.0, min(1.0, h.dense)), 3)) for h in results.hits
        ]
        return Ranked(scrubbed, dedupe(candidates))

    def render(self, ticket: Ticket, ranked: Ranked, threshold: float) -> Suggestions:
        """Suggestions from ranked candidates: threshold, policy steps, order facts, placeholders."""
        ticket_id = f"tkt-{uuid.uuid4().hex[:12]}"
        context = self._order_context(ticket)
        kept = apply_threshold(ranked.candidates, threshold, self.settings.max_suggestions)
        if not kept:
            best = ranked.candidates[0] if ranked.candidates else None
            reason = prompts.render(
                "assist/no_suggestion",
                threshold=threshold,
                best=None if best is None else {"id": best.entry.id, "confidence": best.confidence},
            )
            return Suggestions(
                ticket_id=ticket_id,
                no_suggestion=True,
                reason=reason,
                notes=context.notes,
                threshold=threshold,
                ticket_scrubbed=ranked.scrubbed,
            )
        opening, from_model = self._opening(ranked.scrubbed, [c.entry for c in kept])
        values = shop_values(self.shop_name, self.settings.placeholder_values)
        found = context.orders[0] if context.case == "found" else None
        values.update(personal_values(context.customer, found))
        suggestions = [
            self._suggestion(rank, c, context, opening, from_model, values) for rank, c in enumerate(kept, 1)
        ]
        notes = list(context.notes)
        if self._drafting():
            notes += self._draft_all(ranked.scrubbed, kept, suggestions, context, values)
        return Suggestions(
            ticket_id=ticket_id,
            suggestions=suggestions,
            notes=notes,
            threshold=threshold,
            ticket_scrubbed=ranked.scrubbed,
        )

    # -- parts -----------------------------------------------------------------------------------
    def _order_text(self, subflow: Subflow | None, context: _OrderContext) -> str:
        if context.case is None or not (context.named or self.policy_map.about_orders(subflow)):
            return ""
        return prompts.render(
            "assist/order",
            case=context.case,
            orders=context.orders,
            order_id=context.order_id,
            currency=self.currency,
        )

    def _suggestion(
        self,
        rank: int,
        cand: Candidate,
        context: _OrderContext,
        opening: str,
        from_model: bool,
        values: dict[str, str],
    ) -> Suggestion:
        entry = cand.entry
        subflow = self.policy_map.subflow_for(entry.id, entry.category, self.policies)
        sources = [Source(kind="faq", id=entry.id, title=entry.question)]
        if subflow is not None:
            sources.append(Source(kind="policy", id=subflow.id, title=f"{subflow.flow}: {subflow.name}"))
        order_text = self._order_text(subflow, context)
        if order_text:
            sources += [
                Source(kind="order", id=o.order_id, title=f"Order {o.order_id}") for o in context.orders
            ]
        text = prompts.render("assist/reply", opening=opening, answer=entry.answer, order=order_text)
        text, filled, left = fill(text, values)
        return Suggestion(
            id=f"sug-{uuid.uuid4().hex[:12]}",
            rank=rank,
            text=text,
            intent=entry.id,
            category=entry.category,
            confidence=cand.confidence,
            sources=sources,
            subflow=subflow.id if subflow else None,
            subflow_name=subflow.name if subflow else "",
            steps=list(subflow.steps) if subflow else [],
            placeholders=left,
            filled=filled,
            opening_from_model=from_model,
        )

    def subflow_for(self, entry: FAQEntry) -> Subflow | None:
        return self.policy_map.subflow_for(entry.id, entry.category, self.policies)

    def _order_context(self, ticket: Ticket) -> _OrderContext:
        """Which order facts the suggestions may carry; only ever the ticket's own customer's."""
        ctx = _OrderContext()
        named = (ticket.order_id or "").strip()
        if not named:
            match = ORDER_ID.search(ticket.text or "")
            named = match.group(0) if match else ""
        customer = self.orders.customer(ticket.customer_id) if ticket.customer_id else None
        ctx.customer = customer
        if ticket.customer_id and customer is None:
            ctx.notes.append(
                f"Customer {ticket.customer_id} is not known: no account details or orders are used."
            )
        if named:
            ctx.named, ctx.order_id = True, named.upper()
            if customer is None:
                ctx.notes.append(
                    f"The ticket names order {ctx.order_id} but no known customer: pull up the customer's "
                    "account before discussing it (orders are only shown for their own customer)."
                )
                return ctx
            order = self.orders.order_for(customer.id, named)
            if order is None:
                ctx.case = "missing"
                ctx.notes.append(f"Order {ctx.order_id} is not on this customer's account.")
            else:
                ctx.case, ctx.orders = "found", [order]
            return ctx
        if customer is not None:
            recent = self.orders.orders_for(customer.id, limit=3)
            ctx.case, ctx.orders = ("choose", recent) if recent else ("ask", [])
        else:
            ctx.case = "ask"
        return ctx

    # -- drafts (the draft task) -----------------------------------------------------------------
    def warm_up(self) -> None:
        """Load the model now, where drafts are on, so the first ticket does not pay for it."""
        if self._drafting():
            assert self._generator is not None
            warm = getattr(self._generator(), "warm_up", None)
            if warm is not None:
                warm()

    def _drafting(self) -> bool:
        return (
            self.settings.model_drafts and self.settings.draft_budget_ms > 0 and self._generator is not None
        )

    def _draft_all(
        self,
        scrubbed: str,
        kept: Sequence[Candidate],
        suggestions: list[Suggestion],
        context: _OrderContext,
        values: dict[str, str],
    ) -> list[str]:
        """Replace each templated reply by the model's draft where a draft passes the checks.

        Each suggestion gets `assist.draft_candidates` drafts (the first greedy, the others sampled):
        one draft of a 135M model invents a step or drops a contact often, a few differ where it
        errs. All run together (the engine batches them) under one deadline, `assist.draft_budget_ms`;
        the first candidate that passes is used and the rest of its suggestion's are stopped. With
        none passing, late or failed, the templated reply stays, with the reasons in `draft_problems`.
        Returns notes for the agent.
        """
        deadline = time.monotonic() + self.settings.draft_budget_ms / 1000
        n = self.settings.draft_candidates
        stops = [threading.Event() for _ in kept]
        # Greedy drafts first, then the sampled ones rank by rank, as many as the engine decodes at once:
        # more would wait for a slot (past the budget, on a CPU) and hold up other requests meanwhile.
        assert self._generator is not None
        try:
            slots = decode_slots(self._generator()) or 8  # unknown (remote, scripted): taken as 8
        except GeneratorError:  # each draft then fails alike, and says so
            slots = len(kept)
        order = [(k, i) for k in range(n) for i in range(len(kept))][: max(len(kept), slots)]
        submitted = {
            (i, k): _DRAFT_POOL.submit(
                carry_scope(self._draft_text), scrubbed, kept[i].entry.answer, deadline, k, stops[i]
            )
            for k, i in order
        }
        late = unavailable = 0
        for i, (cand, suggestion) in enumerate(zip(kept, suggestions, strict=True)):
            outcome = self._first_passing(
                [submitted[i, k] for k in range(n) if (i, k) in submitted],
                deadline,
                scrubbed,
                cand.entry,
                values,
                stops[i],
            )
            if isinstance(outcome, _Checked):
                suggestion.draft_problems = outcome.removed
                subflow = self.subflow_for(cand.entry)
                text = prompts.render(
                    "assist/draft", draft=outcome.text, order=self._order_text(subflow, context)
                )
                suggestion.text, suggestion.filled, suggestion.placeholders = fill(text, values)
                suggestion.written_by = f"{self.draft_adapter or 'base'} on {self.base_name}"
                suggestion.opening_from_model = False
            else:
                late += outcome == [LATE]
                unavailable += outcome == [UNAVAILABLE]
                suggestion.draft_problems = outcome
        notes = []
        if late:
            notes.append(
                f"{late} draft(s) took longer than {self.settings.draft_budget_ms} ms "
                "(assist.draft_budget_ms): those suggestions are the FAQ answers as written."
            )
        if unavailable:
            notes.append("The model is unavailable: the suggestions are the FAQ answers as written.")
        return notes

    def _first_passing(
        self,
        futures: Sequence[Future[str | None]],
        deadline: float,
        scrubbed: str,
        entry: FAQEntry,
        values: dict[str, str],
        stop: threading.Event,
    ) -> _Checked | list[str]:
        """The first of a suggestion's candidates (in order) that passes `_check_draft`, the others
        then stopped, or with `assist.draft_choice` "consensus" the passing one closest to all the
        candidates (`_consensus`); else the first checked candidate's problems, or [LATE] /
        [UNAVAILABLE] where no candidate was checked (none finished in time, or the model failed)."""
        consensus = self.settings.draft_choice == "consensus"
        first: list[str] | None = None
        late = unavailable = False
        written: dict[int, str] = {}  # candidate index -> its draft, for the consensus
        passing: list[_Checked] = []
        for index, future in enumerate(futures):
            try:
                draft = future.result(timeout=max(0.0, deadline - time.monotonic()) + 1.0)
            except FutureTimeout:
                draft = None
            except GeneratorError as exc:
                log.warning("draft: the model is unavailable for a candidate: %s", exc)
                unavailable = True
                continue
            if draft is None:
                late = True
                continue
            text, problems, removed = self._check_draft(draft, scrubbed, entry, values)
            written[index] = draft
            if not problems:
                log.debug("draft: candidate %d of %d passed the checks", index + 1, len(futures))
                passing.append(_Checked(text, removed, index))
                if not consensus:
                    break
            elif first is None:
                first = problems + removed
        if passing:
            stop.set()
            return _consensus(passing, written) if consensus else passing[0]
        if first is not None:
            return first
        return [LATE] if late or not unavailable else [UNAVAILABLE]

    def _draft_text(
        self,
        scrubbed: str,
        answer: str,
        deadline: float,
        candidate: int = 0,
        stop: threading.Event | None = None,
    ) -> str | None:
        """The model's draft, or None if the deadline passes (or `stop` is set) first; the generation is
        then stopped. Candidate 0 is greedy; the others sample, each with its own fixed seed, so a rerun
        writes the same candidates on an engine that honours seeds."""
        from assistant.generation.base import ChatMessage, GenerationRequest, close_stream

        assert self._generator is not None
        if time.monotonic() > deadline or (stop is not None and stop.is_set()):
            return None
        request = GenerationRequest(
            messages=[ChatMessage.model_validate(m) for m in draft_messages(scrubbed, answer)],
            max_new_tokens=self.settings.draft_max_tokens,
            temperature=self.settings.draft_candidate_temperature if candidate else 0.0,
            seed=candidate,
            adapter=self.draft_adapter,
        )
        parts: list[str] = []
        chunks = self._generator().stream(request)
        for chunk in chunks:
            if time.monotonic() > deadline or (stop is not None and stop.is_set()):
                close_stream(chunks)
                return None
            parts.append(chunk)
        return _whole_sentences("".join(parts).strip())

    def _check_draft(
        self, draft: str, scrubbed: str, entry: FAQEntry, values: dict[str, str]
    ) -> tuple[str, list[str], list[str]]:
        """The draft as it may be suggested, its problems (non-empty: not used) and the sentences
        removed from it. The contact placeholders the entry's answer fills are filled first (the
        model writes {{Customer Support Email}} where the answer gives the address). Sentences whose
        numbers, contacts or names the sources lack are removed (a list step failing rejects the
        draft: a procedure missing a step is wrong); then the whole draft is checked, and the shop's
        own FAQ retriever must still find its entry in its top three."""
        from assistant.grounding.replies import check_draft, contact_values, drop_unsupported

        draft = fill(draft, contact_values(entry.answer, PLACEHOLDER.findall(draft)))[0]
        sources = [scrubbed, entry.question, entry.answer, self.shop_name, *values.values()]
        kept, dropped = drop_unsupported(draft, sources, keep_lists_whole=True)
        removed = [f"removed: {c.text} ({', '.join(c.problems)})" for c in dropped]
        if kept is None:
            return draft, [f"a step states what the sources do not: {', '.join(dropped[0].problems)}"], []
        if len(kept.split()) * 2 < len(draft.split()):
            return draft, ["most of the draft states what the sources do not"] + removed, []
        problems = check_draft(kept, sources, answer=entry.answer, max_words=self.settings.draft_max_tokens)
        if problems:
            return kept, problems, removed
        hits = self.faq.run(kept, top_k=3).hits
        if entry.id not in [h.entry.id for h in hits]:
            found = ", ".join(h.entry.id for h in hits) or "nothing"
            return kept, [f"off topic: the FAQ finds {found} for the draft"], removed
        return kept, [], removed

    def _opening(self, scrubbed: str, entries: list[FAQEntry]) -> tuple[str, bool]:
        """The opening sentence: the model's when enabled and it passes the verifier, else the template's."""
        template = prompts.render("assist/opening", shop=self.shop_name)
        if not self.settings.model_opening or self._generator is None:
            return template, False
        from assistant.generation.base import ChatMessage, GenerationRequest, GeneratorError, generate
        from assistant.grounding.verify import split_sentences, verify

        messages = prompts.render_messages("assist/opening", shop=self.shop_name, ticket=scrubbed)
        request = GenerationRequest(
            messages=[ChatMessage.model_validate(m) for m in messages],
            max_new_tokens=40,
            temperature=0.0,
            adapter=self.adapter,
        )
        try:
            raw = generate(self._generator(), request)
        except GeneratorError as exc:
            log.warning("opening sentence: the model is unavailable, using the template: %s", exc)
            return template, False
        done, rest = split_sentences(raw.strip() + " ")
        sentence = (done[0] if done else rest).strip()
        sources = [scrubbed, OPENING_WORDS, self.shop_name] + [f"{e.question} {e.answer}" for e in entries]
        if (
            not sentence
            or len(sentence.split()) > 30
            or not verify(sentence, sources, closed_vocabulary=True).ok
        ):
            return template, False
        return sentence, True
