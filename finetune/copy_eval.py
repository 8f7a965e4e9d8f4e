"""Copy eval: each model variant (base, copy adapter) on the same products, in one run.

For each variant it reports what the model alone did (its first draft) next to what the service
delivered (after the check, repair, facts and fitting), so the numbers cannot flatter the model:

- unsupported-claim rate: share of descriptions with at least one unsupported claim;
- attribute coverage: share of key attributes mentioned;
- length adherence: share of descriptions inside the length's word range;
- distinct-2: distinct word bigrams / all bigrams over the variant's descriptions (diversity);
- BLEU (sacrebleu, corpus level) and ROUGE-L (`finetune.evaluate.rouge_l`) against the existing
  descriptions, where the data has them (Flipkart);
- outcome shares (model / repaired / template), drafts and candidates per product, seconds per
  product (wall time over products) and p50/p95 of each product's own time (at this concurrency);
- no repeated 4-gram: share of descriptions in which no word 4-gram occurs twice (degeneration).

Configurations of the copy settings can be compared in the same run (`configs`: e.g. 1 vs 3
candidates per attempt, or the repetition penalty off, on the same products and loaded model). `records_path` writes every product's attributes,
merchant text, first draft and final text with the checker's verdicts, for a second opinion from
a measure that shares no code with the checker (`bench/copy_faithfulness.py`).
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from assistant.copystudio.protocol import CopyControls, CopyRequest, CopyResult
from assistant.copystudio.service import BASE, CopyService, clean_attributes, repeats_ngram, word_count


def sample(products: Sequence[Any], n: int | None) -> list[Any]:
    """A fixed sample: the first n products by hash of their id (the same on every machine)."""
    ranked = sorted(products, key=lambda p: hashlib.sha256(f"copy-eval:{p.id}".encode()).hexdigest())
    return ranked if n is None else ranked[:n]


def heldout_ids(paths: Iterable[str | Path], shop_name: str, val_fraction: float = 0.1) -> set[str]:
    """Products the copy adapter never trained on: those whose copy example id
    (`finetune.data.copy_example_id`, the id `shopassist finetune --task copy` splits by) is on the
    validation side, whether or not the cleaning makes an example of them, and those that can never
    be examples (no description and too few key attributes). The split depends on the id alone, so a
    change in how targets are cleaned never counts a product an older adapter trained on as held out.
    `shop_name` is kept for callers: the id does not depend on it."""
    from finetune.data import can_be_copy_example, copy_example_id, in_validation, load_copy_products

    del shop_name
    return {
        p.id
        for p in load_copy_products(list(paths))
        if not can_be_copy_example(p) or in_validation(copy_example_id(p), val_fraction)
    }


def distinct_n(texts: Iterable[str], n: int = 2) -> float:
    """Distinct word n-grams over all n-grams of the texts (1.0 = no n-gram repeats anywhere)."""
    grams: list[tuple[str, ...]] = []
    for text in texts:
        words = text.lower().split()
        grams += [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return round(len(set(grams)) / len(grams), 4) if grams else 0.0


def bleu(candidates: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (sacrebleu, default 13a tokenization, lower-cased) on the pairs with a reference."""
    import sacrebleu

    pairs = [(c, r) for c, r in zip(candidates, references, strict=True) if r.strip()]
    if not pairs:
        return 0.0
    result = sacrebleu.corpus_bleu([c for c, _ in pairs], [[r for _, r in pairs]], lowercase=True)
    return round(float(result.score), 2)


def _mean(xs: Sequence[float]) -> float:
    return round(statistics.fmean(xs), 4) if xs else 0.0


def _percentile(xs: Sequence[float], q: float) -> float:
    """The q-th percentile (nearest rank: a value that was measured, not interpolated)."""
    if not xs:
        return 0.0
    ordered = sorted(xs)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100)
    return round(ordered[int(rank) - 1], 3)


def score(results: Sequence[CopyResult], references: Sequence[str], seconds: float) -> dict[str, Any]:
    """The metrics of one variant (see the module docstring)."""
    from finetune.evaluate import rouge_l

    n = len(results)
    drafted = [r for r in results if r.drafts]
    firsts = [r.drafts[0] for r in drafted]
    model_refs = [ref for r, ref in zip(results, references, strict=True) if r.drafts]
    outcomes = Counter(r.source for r in results)
    with_ref = [(r, ref) for r, ref in zip(results, references, strict=True) if ref.strip()]
    return {
        "products": n,
        "model_unsupported_rate": _mean([float(bool(d.unsupported)) for d in firsts]),
        "unsupported_rate": _mean([float(bool(r.unsupported)) for r in results]),
        "model_coverage": _mean([d.coverage for d in firsts]),
        "coverage": _mean([r.coverage for r in results]),
        "model_length_ok": _mean(
            [
                float(r.length_range[0] <= word_count(d.text) <= r.length_range[1])
                for r, d in zip(drafted, firsts, strict=True)
            ]
        ),
        "length_ok": _mean([float(r.length_ok) for r in results]),
        "model_distinct_2": distinct_n(d.text for d in firsts),
        "distinct_2": distinct_n(r.text for r in results),
        "model_bleu": bleu([d.text for d in firsts], model_refs),
        "bleu": bleu([r.text for r in results], list(references)),
        "model_rouge_l": _mean(
            [rouge_l(d.text, ref) for d, ref in zip(firsts, model_refs, strict=True) if ref.strip()]
        ),
        "rouge_l": _mean([rouge_l(r.text, ref) for r, ref in with_ref]),
        "share_model": round(outcomes["model"] / n, 4) if n else 0.0,
        "share_repaired": round(outcomes["repaired"] / n, 4) if n else 0.0,
        "share_template": round(outcomes["template"] / n, 4) if n else 0.0,
        "drafts_per_product": _mean([float(r.attempts) for r in results]),
        "unsupported_claims_per_draft": _mean([float(len(d.unsupported)) for d in firsts]),
        "words": _mean([float(r.word_count) for r in results]),
        "model_no_repeat_4": _mean([float(not repeats_ngram(d.text, 4)) for d in firsts]),
        "no_repeat_4": _mean([float(not repeats_ngram(r.text, 4)) for r in results]),
        "model_repetition": _mean([d.repetition for d in firsts]),
        "candidates_per_product": _mean([float(r.candidates) for r in results]),
        "seconds_per_product": round(seconds / n, 3) if n else 0.0,
        "p50_seconds": _percentile([r.seconds for r in results], 50),
        "p95_seconds": _percentile([r.seconds for r in results], 95),
    }


def records_of(
    service: CopyService,
    products: Sequence[Any],
    results: Sequence[CopyResult],
    variant: str,
    config: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """What was evaluated, one record per product: the attributes the copy was written from, the
    merchant's own text, the model's first draft and the final text, who wrote the final text, and
    the checker's verdict on each (unsupported claims), so another measure can be set against it."""
    out = []
    for product, result in zip(products, results, strict=True):
        attributes = clean_attributes(service.attributes(product.id))
        merchant = product.description or ""
        checker = service.checker(attributes)
        first = result.drafts[0] if result.drafts else None
        out.append(
            {
                "product_id": product.id,
                "variant": variant,
                "config": dict(config or {}),
                "attributes": attributes,
                "tone": result.tone,
                "length": result.length,
                "merchant_text": merchant,
                "merchant_unsupported": [c.text for c in checker.check(merchant).unsupported]
                if merchant.strip()
                else [],
                "draft": first.text if first else "",
                "draft_unsupported": [c.text for c in first.unsupported] if first else [],
                "text": result.text,
                "text_unsupported": [c.text for c in result.unsupported],
                "source": result.source,
                "adapter": result.adapter or BASE,
                "candidates": result.candidates,
                "seconds": result.seconds,
            }
        )
    return out


def evaluate_copy(
    service: CopyService,
    products: Sequence[Any],
    variants: Sequence[str | None],
    *,
    controls: CopyControls | None = None,
    workers: int | None = None,
    keep_samples: int = 3,
    progress: bool = False,
    configs: Mapping[str, Mapping[str, Any]] | None = None,
    records_path: str | Path | None = None,
) -> dict[str, Any]:
    """Every variant (None = the base model, else an adapter name) on the same products; requests
    run concurrently so the engine batches them. With `configs` (label -> copy settings to change),
    each variant runs once per configuration, named "VARIANT@LABEL", on the same products and loaded
    model. `records_path` gets the records of every run (`records_of`)."""
    controls = controls or CopyControls()
    references = [p.description for p in products]
    out: dict[str, Any] = {
        "products": len(products),
        "with_reference": sum(1 for r in references if r.strip()),
        # the bar a model's distinct-2 is read against: the merchants' own texts of the same products
        "merchant_distinct_2": distinct_n(r for r in references if r.strip()),
        "controls": controls.model_dump(mode="json", exclude_none=True),
        "length_range": list(
            service.settings.length_words[controls.length or service.settings.default_length]
        ),
        "models": {},
    }
    workers = max(1, workers or service.concurrency())
    _ = service.generator  # load the model before any clock starts: its load is no product's time
    runs: dict[str, Mapping[str, Any]] = dict(configs) if configs else {"": {}}
    records: list[dict[str, Any]] = []
    for variant in variants:
        for config, updates in runs.items():
            name = variant or BASE
            label = f"{name}@{config}" if config else name
            runner = service.with_settings(**updates) if updates else service
            started = time.perf_counter()

            def one(product: Any, adapter: str = name, runner: CopyService = runner) -> CopyResult:
                return runner.run(CopyRequest(product_id=product.id, controls=controls, adapter=adapter))

            from tqdm import tqdm

            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(
                    tqdm(
                        pool.map(one, products),
                        total=len(products),
                        desc=label,
                        unit="product",
                        disable=not progress,
                    )
                )
            metrics = score(results, references, time.perf_counter() - started)
            metrics["samples"] = [
                {
                    "product_id": r.product_id,
                    "first_draft": r.drafts[0].text if r.drafts else "",
                    "draft_unsupported": [f"{c.text} ({c.reason})" for c in r.drafts[0].unsupported]
                    if r.drafts
                    else [],
                    "final": r.text,
                    "source": r.source,
                }
                for r in results[:keep_samples]
            ]
            out["models"][label] = metrics
            if records_path is not None:
                records += records_of(runner, products, results, label, dict(updates))
    if records_path is not None:
        Path(records_path).write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
        out["records"] = str(records_path)
    return out
