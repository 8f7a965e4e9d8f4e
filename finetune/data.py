"""Training examples for the task adapters: built from data files, scrubbed, split and fingerprinted.

Every text goes through `assistant.grounding.pii.scrub` before it becomes an example, so nothing personal is
trained on or written. Each example has a stable id; the train/validation split is a hash of that
id (the same example lands on the same side on every machine and every run), and the fingerprint
is a hash of the built examples, so a checkpoint or adapter can tell which data it was trained on.
torch is not imported here; tokenization takes any Hugging Face tokenizer.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import BadInput
from assistant.grounding.pii import scrub_counts
from assistant.grounding.replies import answer_facts, asked_secrets, contact_values, drop_unsupported
from assistant.grounding.sentences import sentence_spans
from prompts.tasks import (
    copy_system_prompt,
    copy_user_prompt,
    cs_system_prompt,
    draft_messages,
    example_id,
    product_attributes,
)


class DataError(BadInput):
    """A data file is missing, empty or has the wrong columns; the message says what to fix."""


@dataclass(frozen=True)
class Example:
    """One chat: system and user turns as the prompt, the assistant turn as the target."""

    id: str
    task: str
    system: str
    user: str
    assistant: str
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def messages(self, with_answer: bool = True) -> list[dict[str, str]]:
        msgs = [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]
        if with_answer:
            msgs.append({"role": "assistant", "content": self.assistant})
        return msgs


@dataclass
class BuiltData:
    """The examples of one task, with what was dropped or scrubbed along the way."""

    task: str
    examples: list[Example]
    skipped: Counter[str] = field(default_factory=Counter)
    scrubbed: Counter[str] = field(default_factory=Counter)
    sources: list[str] = field(default_factory=list)

    def split(self, val_fraction: float = 0.1) -> tuple[list[Example], list[Example]]:
        return split_examples(self.examples, val_fraction)

    def fingerprint(self) -> str:
        return fingerprint(self.examples)


def _hash_share(key: str, fraction: float) -> bool:
    """Deterministic membership: the key's hash, read as a number in [0, 1), below the fraction."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def in_validation(example_id_: str, val_fraction: float) -> bool:
    """Deterministic membership of the validation side, by the example id alone."""
    return _hash_share(f"split:{example_id_}", val_fraction)


def split_examples(
    examples: Iterable[Example], val_fraction: float = 0.1
) -> tuple[list[Example], list[Example]]:
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"val_fraction must be in [0, 1), got {val_fraction}")
    train: list[Example] = []
    val: list[Example] = []
    for ex in examples:
        (val if in_validation(ex.id, val_fraction) else train).append(ex)
    return train, val


def fingerprint(examples: Iterable[Example]) -> str:
    """Hash of the built examples in order (id, task and all three turns)."""
    h = hashlib.sha256()
    for ex in examples:
        h.update(json.dumps([ex.id, ex.task, ex.system, ex.user, ex.assistant], ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


# -- placeholders ---------------------------------------------------------------------------------
_PLACEHOLDER_RE = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")


def shop_placeholder_values(shop_name: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Values the shop's configuration knows; everything else stays a placeholder the assistant fills."""
    values = {
        "Website Name": shop_name,
        "Company Name": shop_name,
        "Company": shop_name,
        "Store Name": shop_name,
    }
    values.update(extra or {})
    return values


def fill_placeholders(text: str, values: Mapping[str, str]) -> str:
    """Replace `{{Name}}` where `values` has Name (case-insensitive); keep unknown ones verbatim."""
    lookup = {k.strip().lower(): v for k, v in values.items()}

    def repl(m: re.Match[str]) -> str:
        return lookup.get(m.group(1).lower(), m.group(0))

    return _PLACEHOLDER_RE.sub(repl, text)


def placeholders_in(text: str) -> list[str]:
    return [m.group(0) for m in _PLACEHOLDER_RE.finditer(text)]


def placeholder_names(text: str) -> list[str]:
    return [m.group(1) for m in _PLACEHOLDER_RE.finditer(text)]


# -- file reading -----------------------------------------------------------------------------------
def _read_csv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.exists():
        raise DataError(f"{path} does not exist; pass the data file with --data")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        cols = reader.fieldnames or []
        missing = [c for c in required if c not in cols]
        if missing:
            raise DataError(
                f"{path.name} lacks the column(s) {', '.join(missing)} (found: {', '.join(cols) or 'none'}); "
                f"it needs {', '.join(required)}"
            )
        rows = list(reader)
    if not rows:
        raise DataError(f"{path} has a header but no rows")
    return rows


# -- customer-service replies -------------------------------------------------------------------------
def _reply_rows(
    rows: list[dict[str, str]], data: BuiltData, refuse: Callable[[dict[str, str]], str | None] | None = None
) -> Iterator[tuple[dict[str, str], str, str, str]]:
    """The rows of a replies file with both sides, each (ticket, reply) once, and its example id:
    the cs and draft tasks share the ids, so they hold out the same tickets. `refuse` names why a
    row is skipped (counted in `data.skipped`)."""
    seen: set[str] = set()
    for row in rows:
        question, reply = (row.get("instruction") or "").strip(), (row.get("response") or "").strip()
        if not question or not reply:
            data.skipped["empty instruction or response"] += 1
            continue
        why = refuse(row) if refuse else None
        if why:
            data.skipped[why] += 1
            continue
        ex_id = example_id("cs", question, reply)
        if ex_id in seen:
            data.skipped["duplicate"] += 1
            continue
        seen.add(ex_id)
        yield row, question, reply, ex_id


def build_cs(
    path: str | Path,
    shop_name: str,
    *,
    fills: Mapping[str, str] | None = None,
    max_examples: int | None = None,
) -> BuiltData:
    """Bitext-style replies (instruction, intent, category, response) into chat examples.

    Shop-known placeholders are filled from the configuration; personal data in either turn is
    replaced by a typed placeholder first, so a filled-in shop value is never scrubbed away.
    """
    path = Path(path)
    rows = _read_csv(path, ("instruction", "response"))
    values = shop_placeholder_values(shop_name, fills)
    system = cs_system_prompt(shop_name)
    data = BuiltData("cs", [], sources=[str(path)])
    for row, question, reply, ex_id in _reply_rows(rows, data):
        user, n_user = scrub_counts(question)
        answer, n_answer = scrub_counts(reply)
        data.scrubbed.update(n_user + n_answer)
        data.examples.append(
            Example(
                ex_id,
                "cs",
                system,
                user,
                fill_placeholders(answer, values),
                meta={"intent": row.get("intent", ""), "category": row.get("category", "")},
            )
        )
    if max_examples:
        data.examples = _balanced(data.examples, max_examples)
    return data


def build_draft(replies: str | Path, faq: str | Path, *, max_examples: int | None = None) -> BuiltData:
    """Agent-assist drafts: (the FAQ answer of the reply's intent, the ticket) to the agent's reply.

    `replies` is the Bitext layout (instruction, intent, response) that `assist feedback export`
    writes, so accepted and edited suggestions are the next training data; `faq` is the shop's FAQ
    (ids = the intents) or Bitext's intent FAQ. Placeholders stay in the target (the service fills
    what the shop knows after the draft). Ids are the cs task's (`_reply_rows`). Sentences of a reply whose numbers, contacts or names the
    ticket and answer do not hold are dropped (`grounding.replies.drop_unsupported`).
    """
    from retrieval.datasets import load_intent_faq

    answers = {e.id: e.answer for e in load_intent_faq(faq)}
    if not answers:
        raise DataError(f"{faq} holds no FAQ answers (columns intent/id and answer)")
    rows = _read_csv(Path(replies), ("instruction", "intent", "response"))
    system = draft_messages("", "")[0]["content"]
    data = BuiltData("draft", [], sources=[str(replies), str(faq)])
    for row, question, reply, ex_id in _reply_rows(
        rows, data, lambda row: None if row.get("intent", "").strip() in answers else "intent not in the FAQ"
    ):
        intent = row["intent"].strip()
        answer = answers[intent]
        ticket, n_user = scrub_counts(question)
        target, n_reply = scrub_counts(_shop_specifics(_echoed_numbers(reply, question)))
        data.scrubbed.update(n_user + n_reply)
        # The contacts the answer states, where the reply has their placeholders: the service fills
        # them the same way before its check, so the adapter learns to copy the shop's address.
        target = fill_placeholders(target, contact_values(answer, placeholder_names(target)))
        # References that invent ("available 24/7", fees) teach a model to invent.
        cleaned, dropped = drop_unsupported(target, [ticket, answer])
        data.skipped["sentences with unsupported claims (dropped)"] += len(dropped)
        if cleaned is None or len(cleaned.split()) < 8:
            data.skipped["reply mostly unsupported"] += 1
            continue
        if asked_secrets(cleaned):  # "provide your username, password": the service refuses it
            data.skipped["reply asks for a credential"] += 1
            continue
        cleaned, added = _with_answer_facts(cleaned, answer)
        data.skipped["replies completed with the answer's facts (kept)"] += added
        user = draft_messages(ticket, answer)[1]["content"]
        data.examples.append(
            Example(ex_id, "draft", system, user, cleaned, meta={"intent": intent, "ticket": ticket})
        )
    if max_examples:
        data.examples = _balanced(data.examples, max_examples)
    return data


def _with_answer_facts(reply: str, answer: str) -> tuple[str, int]:
    """The reply with the answer's sentences that carry a fact (number, e-mail, link) the reply left
    out, as a paragraph before its closing one, and 1 if any was added. The service rejects a
    draft that drops the answer's "3-5 business days" or support address, so targets keep them."""
    missing = [f for f in answer_facts(answer) if f not in reply]
    if not missing:
        return reply, 0
    carrying = [s.text for s in sentence_spans(answer, lines=False) if any(f in s.text for f in missing)]
    paragraphs = reply.split("\n\n")
    closing = len(paragraphs) > 1 and not re.match(r"\s*(?:\d{1,2}[.)]|[-*])\s", paragraphs[-1])
    at = len(paragraphs) - 1 if closing else len(paragraphs)  # a list ends the reply: after it
    paragraphs.insert(at, " ".join(carrying))
    return "\n\n".join(paragraphs), 1


def _balanced(examples: list[Example], n: int) -> list[Example]:
    """At most n examples taken round-robin over the intents (file order within each): reply files
    are grouped by intent, and the first n rows would teach a handful of intents only."""
    by_intent: dict[str, list[Example]] = {}
    for ex in examples:
        by_intent.setdefault(ex.meta.get("intent", ""), []).append(ex)
    out: list[Example] = []
    queues = [iter(group) for group in by_intent.values()]
    while queues and len(out) < n:
        alive = []
        for queue in queues:
            nxt = next(queue, None)
            if nxt is not None and len(out) < n:
                out.append(nxt)
                alive.append(queue)
        queues = alive
    return out


# Help-desk replies promise service terms no shop's answer states ("available 24/7", "our toll-free
# number"). The claim check would drop their whole contact sentence, which taught the adapter to end
# replies without one; the term becomes the placeholder an agent fills, or goes.
_SHOP_SPECIFICS = (
    (re.compile(r"\b(?:24/7|24 hours a day,? 7 days a week)"), "{{Customer Support Availability}}"),
    (
        re.compile(r"\btoll-free\s+(?=(?:phone |hotline |support )?(?:number|line|hotline))", re.IGNORECASE),
        "",
    ),
)


def _shop_specifics(reply: str) -> str:
    """The reply with its unverifiable service terms made placeholders (`_SHOP_SPECIFICS`)."""
    for pattern, repl in _SHOP_SPECIFICS:
        reply = pattern.sub(repl, reply)
    return reply


def _echoed_numbers(reply: str, question: str) -> str:
    """A reply that repeats the ticket's order number gets the placeholder the scrubbed ticket has."""
    for number in set(re.findall(r"\b\d{5,}\b", question)):
        reply = re.sub(rf"\b{number}\b", "{{Order Number}}", reply)
    return reply


# -- product copy -----------------------------------------------------------------------------------
def _trim_description(text: str, max_chars: int) -> str:
    """Long descriptions end at a sentence boundary (else a word boundary) near `max_chars`."""
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    if end > max_chars // 3:
        return cut[: end + 1]
    return cut.rsplit(" ", 1)[0].rstrip(",;:") + "."


def load_copy_products(paths: Iterable[str | Path]) -> list[Any]:
    """Products from the Flipkart sample (recognised by its `pid` column) or any shop catalogue."""
    from retrieval.catalog import CatalogError, load_products
    from retrieval.datasets import flipkart

    products: list[Any] = []
    for p in paths:
        path = Path(p)
        if not path.exists():
            raise DataError(f"{path} does not exist; pass product files with --data")
        with path.open(encoding="utf-8") as fh:
            header = fh.readline()
        try:
            result = flipkart(path) if "pid" in header.split(",") else load_products(path)
        except CatalogError as exc:
            raise DataError(f"cannot read products from {path}: {exc}") from exc
        products.extend(result.items)
    return products


# Copy targets: the merchant text is cleaned before it is learned (semantic noise in references is
# what teaches a data-to-text model to hallucinate: Dusek, Howcroft and Rieser 2019 cut slot errors
# by up to 97% by cleaning E2E), and each example carries the controls its target happens to show.
MIN_COPY_WORDS = 20
MIN_KEY_ATTRIBUTES = 3  # a product with this many key attributes is an example even without prose
MIN_TARGET_WORDS = 12  # shorter targets (prose and attribute sentences together) teach nothing
# Targets built mostly from attribute sentences teach faithful coverage but a monotone "It is ..."
# style: 821 of 1,184 targets were such in a first build, and its adapter's distinct-2 fell from 0.62
# to 0.46. A hashed share of the products without prose keeps coverage taught and prose the majority.
PROSE_FREE_SHARE = 0.34
_SECOND_PERSON = re.compile(r"\b(?:you|your|yours)\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d")


def clean_copy_target(
    description: str, attributes: dict[str, str], brands: Iterable[str] = ()
) -> tuple[str, int]:
    """The description's sentences the claim checker supports against the attributes, in order, and
    how many were dropped (a number, colour, material or brand the attributes do not hold)."""
    from assistant.grounding.claims import ClaimChecker
    from assistant.grounding.sentences import sentence_spans

    checker = ClaimChecker(attributes, brands)
    kept: list[str] = []
    dropped = 0
    for sentence in sentence_spans(re.sub(r"\s+", " ", description).strip(), lines=False):
        if checker.check(sentence.text).unsupported:
            dropped += 1
        else:
            kept.append(sentence.text)
    return " ".join(kept), dropped


def copy_controls(text: str) -> dict[str, str]:
    """The tone, length and form a target shows, as the copy studio names them, so the adapter learns
    to follow them: length from the word ranges of `CopySettings.length_words`; tone by simple
    cues (second person or exclamations read friendly, three or more numbers technical, the rest
    premium: merchants' plain product prose)."""
    from assistant.config import CopySettings

    words = len(text.split())
    ranges = CopySettings().length_words
    length = next((name for name, (_, high) in ranges.items() if words <= high), "long")
    if len(_SECOND_PERSON.findall(text)) >= 2 or "!" in text:
        tone = "friendly"
    elif len(_NUMBER.findall(text)) >= 3:
        tone = "technical"
    else:
        tone = "premium"
    return {"tone": tone, "length": length, "form": "prose"}


def copy_example_id(product: Any) -> str:
    """The copy example id of a product, as `build_copy` gives it (the controls are not part of it), so
    a product's side of the train/validation split never moves with the cleaning of its target."""
    return example_id("copy", product.id, copy_user_prompt(product_attributes(product)))


def can_be_copy_example(product: Any, spec_count: int = 3) -> bool:
    """Whether any cleaning could make an example of the product: it has a description, or enough key
    attributes (`MIN_KEY_ATTRIBUTES`) for a target rendered from them."""
    return bool(product.description.strip()) or _enough_key_attributes(
        product_attributes(product), spec_count
    )


def _enough_key_attributes(attributes: Mapping[str, str], spec_count: int = 3) -> bool:
    """Enough key attributes (`MIN_KEY_ATTRIBUTES`) for a copy target rendered from them alone."""
    from assistant.grounding.claims import key_attributes

    return len(key_attributes(attributes, spec_count)) >= MIN_KEY_ATTRIBUTES


def build_copy(
    paths: Iterable[str | Path],
    shop_name: str,
    *,
    max_examples: int | None = None,
    max_chars: int = 600,
    max_words: int = 90,
) -> BuiltData:
    """Attributes (+ the controls the target shows) -> a description a shop would publish.

    The description's marketplace boilerplate is cut (`finetune.copy_targets.marketplace_prose`), then
    the claim checker keeps its supported sentences; sentences rendered from the data add the key
    attributes the prose leaves out (`attribute_complete`), so the target mentions them and passes the
    checker by construction. A product whose supported prose is under `MIN_COPY_WORDS` words is still
    an example when it has at least `MIN_KEY_ATTRIBUTES` key attributes (its short prose, if any, and
    the attribute sentences); else it is skipped and counted. `skipped["unsupported sentences"]` counts
    what the checker dropped, `skipped["prose from attributes"]` the examples whose prose was too short
    (a hashed `PROSE_FREE_SHARE` of such products; the rest are skipped and counted)."""
    from assistant.grounding.claims import brand_lexicon
    from finetune.copy_targets import attribute_complete, marketplace_prose

    paths = [Path(p) for p in paths]
    data = BuiltData("copy", [], sources=[str(p) for p in paths])
    system = copy_system_prompt(shop_name)
    products = load_copy_products(paths)
    brands = brand_lexicon(products)
    seen: set[str] = set()
    for product in products:
        attrs = product_attributes(product)
        enough_attributes = _enough_key_attributes(attrs)
        if not product.description.strip() and not enough_attributes:
            data.skipped["no description"] += 1
            continue
        prose = _trim_description(marketplace_prose(product.description, product.title), max_chars)
        if not prose:
            data.skipped["only boilerplate"] += 1
        supported, dropped = clean_copy_target(prose, attrs, brands)
        data.skipped["unsupported sentences"] += dropped
        if len(supported.split()) < MIN_COPY_WORDS:
            if not enough_attributes:
                data.skipped["too little supported text"] += 1
                continue
            if not _hash_share(f"prose-free:{product.id}", PROSE_FREE_SHARE):
                data.skipped["too little prose (outside the attribute-only share)"] += 1
                continue
            data.skipped["prose from attributes"] += 1
        target = attribute_complete(product.id, supported, attrs, brands, max_words=max_words)
        if len(target.split()) < MIN_TARGET_WORDS:
            data.skipped["too little supported text"] += 1
            continue
        controls = copy_controls(target)
        user, n_user = scrub_counts(copy_user_prompt(attrs, **controls))
        answer, n_answer = scrub_counts(target)
        ex_id = copy_example_id(product)
        if ex_id in seen:
            data.skipped["duplicate"] += 1
            continue
        seen.add(ex_id)
        data.scrubbed.update(n_user + n_answer)
        data.examples.append(
            Example(ex_id, "copy", system, user, answer, meta={"product_id": product.id, **controls})
        )
        if max_examples and len(data.examples) >= max_examples:
            break
    if not data.examples:
        raise DataError(f"no product in {', '.join(map(str, paths))} has a description to learn from")
    return data


def write_jsonl(examples: Iterable[Example], path: str | Path) -> None:
    """The built (scrubbed) examples, for inspection; never the raw rows."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for ex in examples:
            fh.write(json.dumps(asdict(ex), ensure_ascii=False) + "\n")


# -- tokenization ----------------------------------------------------------------------------------
@dataclass
class Encoded:
    """Token ids and labels of one example; labels are -100 outside the assistant turn."""

    id: str
    input_ids: list[int]
    labels: list[int]

    @property
    def n_target(self) -> int:
        return sum(1 for x in self.labels if x != -100)


def encode(tokenizer: Any, example: Example, max_length: int) -> Encoded | None:
    """Chat-template tokens with loss only on the assistant's reply and its end-of-turn token.

    The prompt (system + user + the assistant header) and the completion are tokenized apart, so the
    boundary is exact. A reply that does not fit is cut (the model still learns its start); an
    example whose prompt alone leaves under 16 target tokens is dropped (None).
    """
    prompt = tokenizer.apply_chat_template(
        example.messages(False), add_generation_prompt=True, tokenize=False
    )
    full = tokenizer.apply_chat_template(example.messages(True), tokenize=False)
    if not full.startswith(prompt):
        raise DataError(
            "the tokenizer's chat template renders the prompt differently with and without the answer; "
            "use a model whose template appends the assistant turn"
        )
    completion = full[len(prompt) :]
    trailing = completion[len(completion.rstrip()) :]  # the newline after the end-of-turn token
    target = completion[: len(completion) - len(trailing)] if trailing else completion
    p_ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    t_ids = list(tokenizer(target, add_special_tokens=False)["input_ids"])
    if len(p_ids) + 16 > max_length:
        return None
    t_ids = t_ids[: max_length - len(p_ids)]
    return Encoded(example.id, p_ids + t_ids, [-100] * len(p_ids) + t_ids)


def encode_all(tokenizer: Any, examples: Iterable[Example], max_length: int) -> tuple[list[Encoded], int]:
    """Encoded examples and how many were dropped for a prompt longer than `max_length`."""
    out, dropped = [], 0
    for ex in examples:
        enc = encode(tokenizer, ex, max_length)
        if enc is None:
            dropped += 1
        else:
            out.append(enc)
    return out, dropped


@dataclass
class Batch:
    """Plain lists (the training loop turns them into tensors); position_ids restart per example
    when packed, which transformers reads as separate sequences (no attention across examples)."""

    input_ids: list[list[int]]
    labels: list[list[int]]
    position_ids: list[list[int]]
    attention_mask: list[list[int]] | None
    real_tokens: int
    target_tokens: int


def pack_rows(encoded: list[Encoded], max_length: int) -> list[list[Encoded]]:
    """Greedy first-fit packing in data order: rows of whole examples up to `max_length` tokens."""
    rows: list[list[Encoded]] = []
    lengths: list[int] = []
    for enc in encoded:
        n = len(enc.input_ids)
        for i, used in enumerate(lengths[-8:], start=max(0, len(lengths) - 8)):
            if used + n <= max_length:
                rows[i].append(enc)
                lengths[i] += n
                break
        else:
            rows.append([enc])
            lengths.append(n)
    return rows


def collate(rows: list[list[Encoded]], pad_id: int, packed: bool, pad_to: int | None = None) -> Batch:
    """A batch of rows (each a list of examples: one unless packed), right-padded to the same width.

    Packed rows carry no attention mask (the per-example position ids isolate the examples); padded
    single-example rows carry the usual mask.
    """
    width = pad_to or max(sum(len(e.input_ids) for e in row) for row in rows)
    ids, labels, pos, masks = [], [], [], []
    real = target = 0
    for row in rows:
        r_ids: list[int] = []
        r_lab: list[int] = []
        r_pos: list[int] = []
        for e in row:
            r_ids += e.input_ids
            r_lab += e.labels
            r_pos += list(range(len(e.input_ids)))
            target += e.n_target
        real += len(r_ids)
        pad = width - len(r_ids)
        masks.append([1] * len(r_ids) + [0] * pad)
        r_pos += list(range(pad))  # the padding is a sequence of its own, with no labels
        ids.append(r_ids + [pad_id] * pad)
        labels.append(r_lab + [-100] * pad)
        pos.append(r_pos)
    return Batch(ids, labels, pos, None if packed else masks, real, target)
