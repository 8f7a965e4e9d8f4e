"""Copy eval: each model variant (base, copy adapter) on the same products, in one run.

For each variant it reports what the model alone did (its first draft) next to what the service
delivered (after the check, repair, facts and fitting), so the numbers cannot flatter the model:

- unsupported-claim rate: share of descriptions with at least one unsupported claim;
- attribute coverage: share of key attributes mentioned;
- length adherence: share of descriptions inside the length's word range;
- distinct-2: distinct word bigrams / all bigrams over the variant's descriptions (diversity);
- BLEU (sacrebleu, corpus level) and ROUGE-L (`finetune.evaluate.rouge_l`) against the existing
  descriptions, where the data has them (Flipkart);
- outcome shares (model / repaired / template), drafts per product, seconds per product.
"""

from __future__ import annotations

import hashlib
import statistics
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from assistant.copystudio.protocol import CopyControls, CopyRequest, CopyResult
from assistant.copystudio.service import BASE, CopyService, word_count


def sample(products: Sequence[Any], n: int | None) -> list[Any]:
    """A fixed sample: the first n products by hash of their id (the same on every machine)."""
    ranked = sorted(products, key=lambda p: hashlib.sha256(f"copy-eval:{p.id}".encode()).hexdigest())
    return ranked if n is None else ranked[:n]


def heldout_ids(paths: Iterable[str | Path], shop_name: str, val_fraction: float = 0.1) -> set[str]:
    """Products on the validation side of the copy adapter's split (never trained on): the same
    hash split `shopassist finetune --task copy` uses. Products without a description were never
    training examples either, so they count as held out."""
    from finetune.data import build_copy, load_copy_products

    paths = list(paths)
    built = build_copy(paths, shop_name)
    train, _ = built.split(val_fraction)
    trained = {ex.meta["product_id"] for ex in train}
    return {p.id for p in load_copy_products(paths) if p.id not in trained}


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
        "seconds_per_product": round(seconds / n, 3) if n else 0.0,
    }


def evaluate_copy(
    service: CopyService,
    products: Sequence[Any],
    variants: Sequence[str | None],
    *,
    controls: CopyControls | None = None,
    workers: int | None = None,
    keep_samples: int = 3,
    progress: bool = False,
) -> dict[str, Any]:
    """Every variant (None = the base model, else an adapter name) on the same products; requests
    run concurrently so the embedded engine batches them."""
    controls = controls or CopyControls()
    references = [p.description for p in products]
    out: dict[str, Any] = {
        "products": len(products),
        "with_reference": sum(1 for r in references if r.strip()),
        "controls": controls.model_dump(mode="json", exclude_none=True),
        "length_range": list(
            service.settings.length_words[controls.length or service.settings.default_length]
        ),
        "models": {},
    }
    workers = max(1, workers or service.settings.workers)
    for variant in variants:
        name = variant or BASE
        started = time.perf_counter()

        def one(product: Any, adapter: str = name) -> CopyResult:
            return service.run(CopyRequest(product_id=product.id, controls=controls, adapter=adapter))

        from tqdm import tqdm

        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(
                tqdm(
                    pool.map(one, products),
                    total=len(products),
                    desc=name,
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
        out["models"][name] = metrics
    return out
