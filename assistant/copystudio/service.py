"""The copy service: attributes in, a checked description out (one `run`, haystack style).

Flow: render the prompt from `prompts/copy_*.j2` (the attributes are a data block, never
instructions), let the model draft (with the registered copy adapter, in the prompt format it was
trained on), check every claim against the attributes; on unsupported claims or a repeated word
4-gram retry with feedback naming them, then repair (drop the sentences that carry them, or the one
that says four words again), then fall back to a description rendered from the attributes alone.
Drafts are decoded with a repetition penalty and n-gram blocking (a 135M model loops otherwise), and
an attempt may write several candidates at once (the first greedy, the others sampled with their own
seeds), of which the checker's best is kept. Key attributes the model left out are rendered from data
after its text, and the whole is fitted into the length's word range, preferring a fit that repeats
no word 4-gram. The final text is checked again, so what leaves here has no unsupported claim and no
repeated 4-gram (the eval's measure, `repeats_ngram`); the drafts keep what the model alone did, for
the eval to report honestly.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import prompts
from assistant.config import CopySettings
from assistant.copystudio.protocol import CopyControls, CopyRequest, CopyResult, Draft, ShopperProfile
from assistant.errors import BadInput, NotFound
from assistant.generation.admission import carry_scope
from assistant.generation.base import (
    ChatMessage,
    GenerationRequest,
    Generator,
    GeneratorError,
    decode_slots,
    generate,
)
from assistant.generation.factory import REMOTE
from assistant.grounding.claims import Claim, ClaimCheck, ClaimChecker, brand_lexicon, key_attributes
from assistant.grounding.sentences import Sentence, sentence_spans

log = logging.getLogger("shopassist.copy")
BASE = "base"  # CopyRequest.adapter value that asks for the base model explicitly
_MAX_VALUE_CHARS = 200
_NOT_FACTS = re.compile(
    r"(?:title|price|tags|currency|rating|stock|id|sku|ean|upc|model (?:number|id)|style code|"
    r"sales package|number of contents.*|in the box|covered in warranty)",
    re.IGNORECASE,
)


class CopyInputError(BadInput):
    """The request cannot be served as given (unknown product or adapter); the message says what to fix."""


class ProductNotFound(NotFound, CopyInputError):
    """The product id is not in the catalogue (404 on the API; a bad input for the CLI's argument)."""


# -- text helpers ----------------------------------------------------------------------------------
_WORD = re.compile(r"[^\W_](?:[\w'’.,/-]*[^\W_])?")


def word_count(text: str) -> int:
    """Words as a reader counts them: bullet dashes and lone punctuation are not words."""
    return len(_WORD.findall(text))


Unit = Sentence  # a sentence or a bullet line of a text, with its character span there


def split_units(text: str) -> list[Unit]:
    """Bullet lines, and sentences within other lines (see `assistant.grounding.sentences`)."""
    return sentence_spans(text)


def clean_draft(raw: str) -> str:
    """The model's prose without what a small model adds around it: a preamble ("Here's a
    description:"), markdown, quotes, lines echoing the attributes ("Brand: X") and a sentence
    cut off by the token limit."""
    kept = []
    raw = raw.replace("\r", "").replace("<<<", "\n").replace(">>>", "\n")
    for line in raw.splitlines():
        line = line.replace("**", "").replace("__", "")
        line = re.sub(r"^\s*(?:#+|>|[-*•]|\d+[.)])\s*", "", line).strip()
        if not line:
            continue
        if re.match(r"(?:here(?:'s| is| are)|sure|certainly|of course|okay)\b.*:\s*$", line, re.IGNORECASE):
            continue
        if re.fullmatch(r"(?:product )?(?:description|title|copy)\s*:?", line, re.IGNORECASE):
            continue
        echo = re.match(r"([A-Za-z][\w /&()'-]{0,40}):\s*\S", line)
        if echo and len(echo.group(1).split()) <= 5 and not re.search(r"[.!?]$", line):
            continue  # "Colour: red" - the attributes repeated, not copy
        kept.append(line)
    text = re.sub(r"^(?:product )?description\s*:\s*", "", " ".join(kept), flags=re.IGNORECASE)
    text = re.sub(r"\s+", " ", text).strip().strip("\"“”'").strip()
    units = split_units(text)
    if len(units) > 1 and not re.search(r"[.!?][\"”')]*$", units[-1].text):
        units = units[:-1]  # cut off mid-sentence by the token limit
    text = " ".join(u.text for u in units)
    if text and not re.search(r"[.!?][\"”')]*$", text):
        # one sentence, cut off: keep it up to its last comma when that leaves a clause
        head = text.rsplit(",", 1)[0] if "," in text else ""
        text = head.rstrip() + "." if word_count(head) >= 6 else ""
    return text


_META = re.compile(
    r"\b(?:product description|this description|the description|attributes?|instructions?|tone|"
    r"word count|words long|as an ai|language model|here is|here's)\b",
    re.IGNORECASE,
)


def unit_problems(units: Sequence[Unit]) -> list[tuple[Unit, str]]:
    """Sentences a small model writes that are not copy: talk about the task, a sentence said
    twice, a phrase looping ("Selling in the market, Selling in the market, ...")."""
    out: list[tuple[Unit, str]] = []
    earlier: list[set[tuple[str, ...]]] = []
    for unit in units:
        words = re.findall(r"\w+", unit.text.lower())
        trigrams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)] or [tuple(words)]
        grams = set(trigrams)
        if _META.search(unit.text):
            out.append((unit, "talks about the task, not the product"))
        elif any(len(grams & seen) >= 0.5 * len(grams) for seen in earlier):
            out.append((unit, "repeats an earlier sentence"))
        elif len(trigrams) > 1 and (
            len(grams) / len(trigrams) < 0.7 or max(map(trigrams.count, trigrams)) >= 3
        ):
            out.append((unit, "repeats itself"))
        earlier.append(grams)
    return out


REPEAT_N = 4  # the gate's n-gram length: the eval's "no repeated 4-gram" measure (`repeats_ngram`)


def _words_of(text: str) -> list[str]:
    """The words n-grams are counted over: one tokenization for the gate, the ranking and the eval."""
    return re.findall(r"\w+", text.lower())


def _grams(words: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]


def _word_ngrams(text: str, n: int) -> list[tuple[str, ...]]:
    return _grams(_words_of(text), n)


def repetition(text: str) -> float:
    """Share of the text's word 3- and 4-grams that repeat an earlier one (mean of the two; 0 = none):
    the fluency signal candidates are ranked by. It is what degeneration looks like in a small
    model's copy, costs nothing, and reads the same whatever engine wrote the text (a perplexity would
    need a second forward pass of the base model per candidate)."""
    shares = []
    for n in (3, 4):
        grams = _word_ngrams(text, n)
        if grams:
            shares.append(1 - len(set(grams)) / len(grams))
    return round(sum(shares) / len(shares), 4) if shares else 0.0


def repeated_ngrams(text: str, n: int = REPEAT_N) -> list[str]:
    """The word n-grams that occur more than once, in the order they recur (each once)."""
    seen: set[tuple[str, ...]] = set()
    out: list[str] = []
    for gram in _word_ngrams(text, n):
        if gram in seen and " ".join(gram) not in out:
            out.append(" ".join(gram))
        seen.add(gram)
    return out


def repeats_ngram(text: str, n: int = REPEAT_N) -> bool:
    """Whether some word n-gram occurs twice in the text (the eval's "no repeated 4-gram" metric, and
    the gate a draft and the final text must pass)."""
    return bool(repeated_ngrams(text, n))


def drop_repeats(units: Sequence[Unit], n: int = REPEAT_N) -> list[Unit]:
    """The units without those that repeat a word n-gram: while one recurs, the unit where its later
    occurrence starts is dropped (a sentence said again, or one that loops within itself), so the
    first saying stays."""
    kept = list(units)
    while True:
        owner: list[int] = []
        words: list[str] = []
        for k, unit in enumerate(kept):
            unit_words = _words_of(unit.text)
            words += unit_words
            owner += [k] * len(unit_words)
        seen: set[tuple[str, ...]] = set()
        for i, gram in enumerate(_grams(words, n)):
            if gram in seen:
                del kept[owner[i]]  # the unit where the gram recurs
                break
            seen.add(gram)
        else:
            return kept


def repair(text: str, unsupported: Sequence[Claim], drop_problems: bool = True) -> str:
    """The text without the sentences (or bullet lines) that carry an unsupported claim, and
    (by default) without those `unit_problems` finds and those that repeat a word 4-gram
    (`drop_repeats`)."""
    units = split_units(text)
    bad = [(c.start, c.end) for c in unsupported]
    if drop_problems:
        bad += [(u.start, u.end) for u, _ in unit_problems(units)]
    kept = [u for u in units if not any(s < u.end and u.start < e for s, e in bad)]
    return join_units(drop_repeats(kept) if drop_problems else kept)


def join_units(units: Sequence[Unit]) -> str:
    """Sentences joined by spaces; bullet lines (and what follows them) on lines of their own."""
    out = ""
    for k, unit in enumerate(units):
        bullet = unit.text[:2] in ("- ", "* ", "• ")
        prev_bullet = k > 0 and units[k - 1].text[:2] in ("- ", "* ", "• ")
        sep = "" if k == 0 else "\n" if bullet or prev_bullet else " "
        out += sep + unit.text
    return out


def clean_attributes(attributes: Mapping[str, Any]) -> dict[str, str]:
    """Attributes as the model and the checker see them: one line each, capped, empty values dropped."""
    return {_one_line(k): _one_line(v) for k, v in attributes.items() if _one_line(v)}


def _one_line(value: str) -> str:
    value = re.sub(r"[\x00-\x1f<>`]+", " ", str(value))
    return re.sub(r"\s+", " ", value).strip()[:_MAX_VALUE_CHARS].strip().rstrip(",;:").strip()


# -- the service -----------------------------------------------------------------------------------
@dataclass
class _Job:
    """Everything one request resolved to."""

    product_id: str | None
    attributes: dict[str, str]
    controls: CopyControls
    tone: str
    length: str
    form: str
    low: int
    high: int
    adapter: str | None
    checker: ClaimChecker
    liked_category: str
    liked_brand: str
    reader: str
    personalized: list[str]
    # attribute key -> its sentence, naming the product or not (`_phrase`)
    phrased: dict[tuple[str, bool], str] = field(default_factory=dict)


class CopyService:
    """Writes checked product copy. One instance serves the CLI, the REST API, the UI and batch.

    `generator` and `products` may be callables, so a service can be built before the model is
    loaded or the catalogue read (the UI and API build theirs at start-up).
    """

    def __init__(
        self,
        generator: Generator | Callable[[], Generator],
        products: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
        *,
        settings: CopySettings | None = None,
        shop_name: str = "our shop",
        languages: Sequence[str] = ("en",),
        adapter: str | None = None,
        known_adapters: Callable[[], Sequence[str]] | None = None,
        orders: Any = None,
        temperature: float = 0.0,
        allowed_names: str = "",
        brands: Sequence[str] | None = None,
        model_id: str = "",
        engine: str = "",
    ) -> None:
        self._generator = generator
        self.model_id = model_id  # names the base model in batch state keys (a change redoes the copy)
        self.engine = engine  # the configured engine's name: a server (REMOTE) takes more in flight
        self._products = products if products is not None else {}
        self.settings = settings or CopySettings()
        self.shop_name = shop_name
        self.languages = set(languages)
        self.adapter = adapter
        self._known_adapters = known_adapters
        self.orders = orders
        self.temperature = temperature
        self.allowed_names = allowed_names or shop_name
        self._brands = list(brands) if brands is not None else None
        self._lock = threading.RLock()

    @classmethod
    def for_shop(cls, shop: Any, *, generator: Generator | None = None) -> CopyService:
        """The service over a `Shop`: its catalogue, orders, generator, languages and copy adapter."""

        def products() -> Mapping[str, Any]:
            shop.index.products.warm_up()
            catalogue: Mapping[str, Any] = shop.index.products.products
            return catalogue

        return cls.from_settings(
            shop.settings,
            generator if generator is not None else (lambda: shop.generator),
            products,
            orders=shop.orders,
            allowed_names=shop.settings.shop.name,
        )

    @classmethod
    def from_settings(
        cls,
        s: Any,
        generator: Generator | Callable[[], Generator],
        products: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
        *,
        orders: Any = None,
        allowed_names: str = "",
    ) -> CopyService:
        """The one place settings become service arguments (copy settings, languages, the task's
        adapter from the registry, temperature, model id), for a shop or for products from files."""
        from assistant.generation.adapters import AdapterRegistry, adapter_for_task

        registry = AdapterRegistry.for_home(s.home)
        return cls(
            generator,
            products,
            settings=s.copywriter,
            shop_name=s.shop.name,
            languages=s.generator.languages,
            adapter=adapter_for_task("copy", s.generator.task_adapters, registry),
            known_adapters=lambda: [r.name for r in registry.list()],
            orders=orders,
            temperature=s.generator.temperature,
            model_id=model_id(s),
            allowed_names=allowed_names,
            engine=s.generator.engine,
        )

    def with_settings(self, **updates: Any) -> CopyService:
        """This service with some copy settings changed, sharing its model and catalogue: the eval
        compares configurations (e.g. candidates) on the same loaded engine in one run. The model is
        loaded here if it was not yet, so the two never load it twice."""
        clone = copy.copy(self)
        clone._generator = self.generator
        clone._products = self.products
        clone.settings = CopySettings.model_validate({**self.settings.model_dump(), **updates})
        return clone

    # -- resources ----------------------------------------------------------------------------------
    @property
    def generator(self) -> Generator:
        with self._lock:  # concurrent first calls (batch, eval) must not load the model twice
            if not isinstance(self._generator, Generator):  # a factory: build the engine on first use
                self._generator = self._generator()
                warm_up = getattr(self._generator, "warm_up", None)
                if callable(warm_up):
                    warm_up()
            return self._generator

    @property
    def remote(self) -> bool:
        """Whether a model server writes (it batches concurrent requests itself, so batch and eval keep
        `server_concurrency` products in flight). Known from the engine name without loading anything;
        else from the generator, once built."""
        if self.engine:
            return self.engine in REMOTE
        generator = self._generator
        return isinstance(generator, Generator) and generator.name in REMOTE

    def concurrency(self) -> int:
        """Products to keep in flight in batch and eval: `server_concurrency` for a server, else `workers`."""
        s = self.settings
        return s.server_concurrency if self.remote else s.workers

    @property
    def products(self) -> Mapping[str, Any]:
        with self._lock:
            if callable(self._products):
                self._products = self._products()
            return self._products

    @property
    def brands(self) -> list[str]:
        """Brand names that count as brand claims (computed once from the catalogue)."""
        with self._lock:
            if self._brands is None:
                self._brands = brand_lexicon(self.products.values())
            return self._brands

    def attributes(self, product_id: str) -> dict[str, str]:
        """The attributes copy is written from (the format the copy adapter was trained on)."""
        from prompts.tasks import product_attributes

        return product_attributes(self.product(product_id))

    def adapter_for(self, requested: str | None) -> str | None:
        """The adapter a request will use: its own, 'base' for none, else the service's default."""
        return self._adapter(requested)

    def product(self, product_id: str) -> Any:
        product = self.products.get(product_id)
        if product is None:
            example = next(iter(self.products), None)
            hint = f" (e.g. {example})" if example else "; the catalogue is empty: run `shopassist ingest`"
            raise ProductNotFound(f"no product with id {product_id!r} in the catalogue{hint}")
        return product

    # -- one request ----------------------------------------------------------------------------------
    def run(self, request: CopyRequest) -> CopyResult:
        """Write, check, repair or fall back; see the module docstring."""
        started = time.perf_counter()
        job = self._resolve(request)
        drafts: list[Draft] = []
        checks: list[ClaimCheck] = []
        spares: list[tuple[Draft, ClaimCheck]] = []
        note = unavailable = None
        if request.controls.language not in self.languages:
            # As chat does: the model is not asked to write a language it cannot; say so, keep facts.
            language = request.controls.language
            note = prompts.render(
                "copy/language_note", language, language=language, reply=prompts.catalogue_locale(language)
            )
        else:
            try:
                drafts, checks, spares = self._draft(job)
            except GeneratorError as exc:
                unavailable = str(exc)
                log.warning("copy: model unavailable, using the template: %s", exc)
        lead, source = self._choose(drafts, checks, spares)
        text, facts = self._compose(job, lead)
        final = job.checker.check(text)
        if not final.ok and lead:
            log.warning("copy: composed text failed the check (%s); using the template", final.unsupported)
            lead, source = "", "template"
            text, facts = self._compose(job, "")
            final = job.checker.check(text)
        if not final.ok:  # the template names only attributes; this guards against a template edit
            text = repair(text, final.unsupported)
            final = job.checker.check(text)
        if repeats_ngram(text):  # no fitting left it free of repeats: drop the sentences that repeat
            text = join_units(drop_repeats(split_units(text)))
            final = job.checker.check(text)
        words = word_count(text)
        return CopyResult(
            product_id=job.product_id,
            text=text,
            form=job.form,  # type: ignore[arg-type]
            tone=job.tone,  # type: ignore[arg-type]
            length=job.length,  # type: ignore[arg-type]
            word_count=words,
            length_range=(job.low, job.high),
            length_ok=job.low <= words <= job.high,
            claims=final.claims,
            unsupported=final.unsupported,
            coverage=final.coverage,
            mentioned=final.mentioned,
            missing=final.missing,
            source=source,  # type: ignore[arg-type]
            facts_added=facts,
            attempts=len(drafts),
            candidates=sum(d.candidates for d in drafts),
            drafts=drafts,
            adapter=job.adapter,
            language=request.controls.language,
            language_note=note,
            personalized=job.personalized,
            model_unavailable=unavailable,
            seconds=round(time.perf_counter() - started, 3),
        )

    def _resolve(self, request: CopyRequest) -> _Job:
        c = request.controls
        s = self.settings
        if request.product_id:
            attributes = self.attributes(request.product_id)
        else:
            attributes = {str(k): str(v) for k, v in (request.attributes or {}).items()}
        attributes = clean_attributes(attributes)
        if not attributes:
            raise CopyInputError("the product has no attributes to write from")
        tone = c.tone or s.default_tone
        length = c.length or s.default_length
        low, high = s.length_words[length]
        profile = self._profile(c)
        category = _get(attributes, "category")
        brand = _get(attributes, "brand")
        liked_category = (
            category if profile and category.lower() in {x.lower() for x in profile.categories} else ""
        )
        liked_brand = brand if profile and brand.lower() in {x.lower() for x in profile.brands} else ""
        reader_bits = [f"often shops for {liked_category}"] if liked_category else []
        reader_bits += [f"likes {liked_brand}"] if liked_brand else []
        personalized = [f"category: {liked_category}"] if liked_category else []
        personalized += [f"brand: {liked_brand}"] if liked_brand else []
        return _Job(
            product_id=request.product_id,
            attributes=attributes,
            controls=c,
            tone=tone,
            length=length,
            form=c.form or s.default_form,
            low=low,
            high=high,
            adapter=self._adapter(request.adapter),
            checker=self.checker(attributes, audience=c.audience, language=c.language),
            liked_category=liked_category,
            liked_brand=liked_brand,
            reader=" and ".join(reader_bits),
            personalized=personalized,
        )

    def checker(
        self, attributes: Mapping[str, str], audience: str = "", language: str = "en"
    ) -> ClaimChecker:
        """The claim checker of one product's (cleaned) attributes, as `run` checks its copy. In another
        language the templates' own words are allowed as names: German capitalises its nouns, and
        the catalogue's text states no product fact."""
        return ClaimChecker(
            attributes,
            self.brands,
            audience=audience,
            spec_count=self.settings.spec_count,
            allowed_names=f"{self.allowed_names} {prompts.catalogue_text(language)}".strip(),
        )

    def _adapter(self, requested: str | None) -> str | None:
        if requested is None or requested == "":
            return self.adapter
        if requested == BASE:
            return None
        if self._known_adapters is not None and requested not in self._known_adapters():
            known = ", ".join(self._known_adapters()) or "none registered"
            raise CopyInputError(
                f"no adapter named {requested!r}; known: {known} (or '{BASE}' for the base model)"
            )
        return requested

    def _profile(self, controls: CopyControls) -> ShopperProfile | None:
        if controls.profile is not None:
            return controls.profile
        if not controls.customer_id or self.orders is None:
            return None
        from assistant.stores.profiles import build_profile

        profile = build_profile(controls.customer_id, self.orders, dict(self.products))
        if profile.is_empty:
            return None
        return ShopperProfile(categories=sorted(profile.categories), brands=sorted(profile.brands))

    # -- the model's part ---------------------------------------------------------------------------
    def _messages(self, job: _Job) -> list[ChatMessage]:
        if job.adapter:
            # The copy adapter learned one prompt format (finetune.data); anything else is off-distribution.
            from prompts.tasks import copy_system_prompt, copy_user_prompt

            return [
                ChatMessage(role="system", content=copy_system_prompt(self.shop_name)),
                ChatMessage(
                    role="user",
                    content=copy_user_prompt(job.attributes, tone=job.tone, length=job.length, form=job.form),
                ),
            ]
        words = self.settings.opening_words[job.length]
        return [
            ChatMessage(role="system", content=prompts.render("copy/system", shop=self.shop_name)),
            ChatMessage(
                role="user",
                content=prompts.render(
                    "copy/user",
                    tone=job.tone,
                    words=words,
                    audience=_one_line(job.controls.audience),
                    reader=job.reader,
                    attributes=list(job.attributes.items()),
                ),
            ),
        ]

    def _draft(self, job: _Job) -> tuple[list[Draft], list[ClaimCheck], list[tuple[Draft, ClaimCheck]]]:
        """Up to `max_attempts` drafts; each retry is told what was wrong with the one before. An
        attempt writes `candidates` texts at once and keeps the best (`_rank`); the others are
        returned as spares for repair, which takes the longest usable text of all (see `_choose`)."""
        messages = self._messages(job)
        max_new = int(self.settings.opening_words[job.length] * 1.8) + 24
        drafts: list[Draft] = []
        checks: list[ClaimCheck] = []
        spares: list[tuple[Draft, ClaimCheck]] = []
        for attempt in range(self.settings.max_attempts):
            texts = self._write(self._requests(job, messages, max_new, attempt))
            written = [self._checked(job, text, len(texts)) for text in texts]
            best = max(range(len(written)), key=lambda k: self._rank(job, written[k][0]))
            draft, check = written[best]
            drafts.append(draft)
            checks.append(check)
            spares += [w for k, w in enumerate(written) if k != best]
            if self._passes(draft):
                break
            repeated = repeated_ngrams(draft.text)[:3]
            if check.unsupported:
                feedback = prompts.render("copy/feedback", claims=check.unsupported, repeated=repeated)
            elif draft.problems:
                feedback = prompts.render("copy/feedback_quality", repeated=repeated)
            else:
                feedback = prompts.render("copy/feedback_empty")
            messages = [
                *messages,
                ChatMessage(role="assistant", content=draft.text or "(nothing)"),
                ChatMessage(role="user", content=feedback),
            ]
        return drafts, checks, spares

    def candidates(self) -> int:
        """Candidates per attempt: the setting, capped at the engine's batch size where it has one (more
        would not decode together, so they would cost their full time)."""
        n = self.settings.candidates
        batch = decode_slots(self.generator) if n > 1 else None
        return min(n, batch) if batch else n

    def _requests(
        self, job: _Job, messages: list[ChatMessage], max_new: int, attempt: int
    ) -> list[GenerationRequest]:
        """The first candidate is the request a single draft would make (greedy by default, seed =
        attempt: reproducible); the others sample at `candidate_temperature`, each with its own fixed
        seed, so a rerun writes the same candidates on an engine that honours seeds."""
        s = self.settings

        def request(temperature: float, seed: int) -> GenerationRequest:
            return GenerationRequest(
                messages=messages,
                max_new_tokens=max_new,
                temperature=temperature,
                adapter=job.adapter,
                seed=seed,
                repetition_penalty=s.repetition_penalty,
                no_repeat_ngram=s.no_repeat_ngram,
                repeat_window=s.repeat_window,
            )

        first = request(self.temperature, attempt)
        sampled = max(self.temperature, s.candidate_temperature)
        others = [request(sampled, 1000 * (attempt + 1) + k) for k in range(1, self.candidates())]
        return [first, *others]

    def _write(self, requests: Sequence[GenerationRequest]) -> list[str]:
        """The candidates' texts, cleaned. They are requested together, so a batching engine decodes
        them in one batch (the request's scope goes with them: a cancelled request stops them all).
        The first one failing fails the attempt, as a single draft would; a later one failing only
        leaves it out."""
        generator = self.generator
        if len(requests) == 1:
            return [clean_draft(generate(generator, requests[0]))]
        with ThreadPoolExecutor(max_workers=len(requests), thread_name_prefix="copy-candidate") as pool:
            futures = [pool.submit(carry_scope(generate), generator, r) for r in requests]
            texts = [clean_draft(futures[0].result())]
            for future in futures[1:]:
                try:
                    texts.append(clean_draft(future.result()))
                except GeneratorError as exc:
                    log.warning("copy: a sampled candidate failed, going on without it: %s", exc)
        return texts

    def _checked(self, job: _Job, text: str, candidates: int) -> tuple[Draft, ClaimCheck]:
        check = job.checker.check(text)
        problems = [f"{reason}: {u.text[:80]}" for u, reason in unit_problems(split_units(text))]
        problems += [f'repeats "{gram}"' for gram in repeated_ngrams(text)]
        draft = Draft(
            text=text,
            word_count=word_count(text),
            claims=check.claims,
            unsupported=check.unsupported,
            problems=problems,
            coverage=check.coverage,
            repetition=repetition(text),
            candidates=candidates,
        )
        return draft, check

    def _rank(self, job: _Job, draft: Draft) -> tuple[bool, bool, int, float]:
        """How a candidate ranks (higher is better): passing the check, long enough to use, fewer
        unsupported claims, then quality = coverage + length fit (against the words the model was
        asked for) - repeated 3/4-gram share - `stock_penalty` x stock phrasing share. Ties keep the
        earlier candidate, so the greedy one wins them."""
        from assistant.copystudio.phrasing import stock_share

        target = self.settings.opening_words[job.length]
        fit = max(0.0, 1.0 - abs(draft.word_count - target) / target)
        stock = (
            stock_share(draft.text) if self.settings.stock_penalty and job.controls.language == "en" else 0.0
        )
        quality = draft.coverage + fit - draft.repetition - self.settings.stock_penalty * stock
        usable = draft.word_count >= self.settings.min_model_words
        return self._passes(draft), usable, -len(draft.unsupported), round(quality, 6)

    def _passes(self, draft: Draft) -> bool:
        return (
            not draft.unsupported and not draft.problems and draft.word_count >= self.settings.min_model_words
        )

    def _choose(
        self,
        drafts: Sequence[Draft],
        checks: Sequence[ClaimCheck],
        spares: Sequence[tuple[Draft, ClaimCheck]] = (),
    ) -> tuple[str, str]:
        """The lead text and its source: a draft that passed, else the longest repaired text of all
        drafts and spare candidates, else none."""
        for draft in drafts:
            if self._passes(draft):
                return draft.text, "model"
        written = list(zip(drafts, checks, strict=True))
        written += list(spares)
        repaired = [repair(d.text, c.unsupported) for d, c in written]
        best = max(repaired, key=word_count, default="")
        if word_count(best) >= self.settings.min_model_words:
            return best, "repaired"
        return "", "template"

    # -- composing the final text --------------------------------------------------------------------
    def _compose(self, job: _Job, lead: str) -> tuple[str, list[str]]:
        """The lead (model text, or the opening template) plus facts from data and fact-free closings,
        fitted into the word range: the most model text that fits, then the fewest extras needed.
        Returns the text and the attribute keys rendered from data."""
        from assistant.copystudio.phrasing import showable

        key = job.checker.key
        extra = [
            (k, v)
            for k, v in job.attributes.items()
            if k not in key and not _NOT_FACTS.fullmatch(k.lower()) and len(v.split()) <= 12 and showable(v)
        ]
        units = [u.text for u in split_units(lead)] if lead else []
        leads = [" ".join(units[:n]) for n in range(len(units), 0, -1)] + [""]  # "": the opening template

        def facts_for(lead_text: str) -> list[tuple[str, str]]:
            if job.form == "bullets":
                return list(key.items())  # the spec list is the point of bullets
            if lead_text and not self.settings.append_facts:
                return []
            opening = lead_text or self._render(job, "", [], 0)
            return [(k, v) for k, v in key.items() if not _mentioned(job, opening, k)]

        options = [(lead_text, facts_for(lead_text)) for lead_text in leads]
        best: tuple[tuple[bool, int], str, list[str]] = ((True, 10**9), "", [])
        # Priority: every key fact (coverage), then as much model text as fits, then more
        # specifications before any fact-free closing: the fewest specifications that reach the
        # minimum, else all that fit plus the fewest closings. A text that repeats a word 4-gram (a
        # fact the lead already said in the same words) is taken only when nothing else is found;
        # `run` then drops the repeating sentence.
        for drop in range(max(len(f) for _, f in options) + 1):
            for lead_text, facts in options:
                chosen_key = facts[: max(0, len(facts) - drop)]
                extra_here = [(k, v) for k, v in extra if not _mentioned(job, lead_text, k)]
                for closings in range(7):
                    counts = range(len(extra_here) + 1)
                    bare = 0  # words with these closings and no specification
                    for n_extra in counts if not closings else reversed(counts):
                        chosen = chosen_key + extra_here[:n_extra]
                        # Closings start where the product's hash says; a set that repeats a 4-gram
                        # (two closings sharing words) or that the checker flags tries the next start.
                        for shift in range(6 if closings else 1):
                            text = self._render(job, lead_text, chosen, closings, shift)
                            n = word_count(text)
                            rank = (repeats_ngram(text), max(job.low - n, n - job.high, 0))
                            if rank == (False, 0) and closings and not job.checker.check(text).ok:
                                # A closing the checker flags (a translated one naming a feature,
                                # say) would be cut by `run` and the text fall short: next start.
                                rank = (True, 0)
                            if rank < best[0]:
                                best = (rank, text, [k for k, _ in chosen])
                            if rank == (False, 0):
                                return text, best[2]
                            if not rank[0]:
                                break
                        bare = n if n_extra == 0 else bare
                        if not closings and n > job.high:
                            break  # more specifications only make it longer
                    if bare > job.high:
                        break  # more closings only make it longer
        return best[1], best[2]

    def _phrased(self, job: _Job, facts: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
        """The facts with their sentences (`_phrase`), each named subject ("The boot ...") used once."""
        from assistant.copystudio.phrasing import each_subject_once

        sentences = each_subject_once(
            facts, job.attributes, lambda k, v, subject: self._phrase(job, k, v, subject)
        )
        return [(k, v, sentence) for (k, v), sentence in zip(facts, sentences, strict=True)]

    def _phrase(self, job: _Job, key: str, value: str, subject: bool = True) -> str:
        """The fact as a varied English sentence (`phrasing.attribute_sentence`: a phrasing picked by a
        hash of the product and key, checked like any claim), so a catalogue's descriptions do not all
        read "Key: value." in the same words; "" where the template's own line stays: bullets, other
        languages, the technical tone's spec lines, or no phrasing that passes the checker."""
        if job.form == "bullets" or job.tone == "technical" or job.controls.language != "en":
            return ""
        if (key, subject) not in job.phrased:
            from assistant.copystudio.phrasing import attribute_sentence

            seed = job.product_id or _get(job.attributes, "title")
            job.phrased[key, subject] = attribute_sentence(
                seed, key, value, job.attributes, checker=job.checker, acronyms=True, subject=subject
            )
        return job.phrased[key, subject]

    def _render(
        self, job: _Job, lead: str, facts: list[tuple[str, str]], closings: int, shift: int = 0
    ) -> str:
        text = prompts.render(
            "copy/template",
            job.controls.language,  # the template's own words in the requested language, where a catalogue has it
            lead=lead,
            title=_get(job.attributes, "title"),
            brand=_get(job.attributes, "brand"),
            audience=_one_line(job.controls.audience),
            liked_category=job.liked_category,
            liked_brand=job.liked_brand,
            tone=job.tone,
            form=job.form,
            facts=self._phrased(job, facts),
            count=closings,
            offset=_closing_offset(job) + shift,
        )
        return re.sub(r"(?<!\.)\.\.(?!\.)", ".", text)  # "Co." + "." (an ellipsis stays)


def model_id(settings: Any) -> str:
    """Which model writes: the engine and the model folder or served name (part of batch keys)."""
    gen = settings.generator
    return f"{gen.engine}:{gen.served_model or gen.model or 'smollm2-135m-instruct'}"


def _closing_offset(job: _Job) -> int:
    """Where in the tone's list of fact-free closings this product starts (a hash of the product), so a
    catalogue's descriptions do not all end with the same sentence."""
    from assistant.copystudio.phrasing import stable_int

    return stable_int(f"copy-closing:{job.product_id or _get(job.attributes, 'title')}")


def _get(attributes: Mapping[str, str], key: str) -> str:
    return next((v for k, v in attributes.items() if k.lower() == key), "")


def _mentioned(job: _Job, text: str, key: str) -> bool:
    from assistant.grounding.claims import mentions

    return bool(text) and mentions(text, key, job.attributes[key])


def key_attributes_of(attributes: Mapping[str, str], settings: CopySettings | None = None) -> dict[str, str]:
    """The key attributes the service covers, under the given settings."""
    return key_attributes(attributes, (settings or CopySettings()).spec_count)
