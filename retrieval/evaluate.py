"""Offline evaluation of product search and FAQ/intent routing on judged data.

Product search: the whole catalogue is indexed once (cached by content, so a re-run embeds
nothing), then every judged query is ranked by the lexical baseline, the dense baseline and the
hybrid retriever from the same index, reporting nDCG@10, recall@100, latency and ingest rate.
Intent routing: accuracy@1/@3 of the FAQ retriever, cold (FAQ entries only) or with labelled
example questions, cross-validated when the examples are the evaluation questions themselves.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from retrieval.datasets import SearchSet
from retrieval.filters import Filters
from retrieval.schema import FAQEntry, Product
from retrieval.search import Mode

if TYPE_CHECKING:
    from retrieval.calibration import FAQCalibration, FAQSignals
    from retrieval.languages import Analyzer

MODES = ("lexical", "dense", "hybrid")


def ndcg_at(ranked: Sequence[str], gains: dict[str, float], k: int = 10) -> float:
    """nDCG with linear gains; the ideal ordering uses every judged product of the query."""
    dcg = sum(gains.get(pid, 0.0) / math.log2(i + 2) for i, pid in enumerate(ranked[:k]))
    ideal = sorted((g for g in gains.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: Sequence[str], gains: dict[str, float], k: int = 100) -> float:
    relevant = {pid for pid, g in gains.items() if g > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else 0.0


def _set_key(search_set: SearchSet, embedding_function: Any) -> str:
    digest = hashlib.sha256(json.dumps(embedding_function.get_config(), sort_keys=True, default=str).encode())
    for p in search_set.products:
        digest.update(p.content_hash().encode())
    return digest.hexdigest()[:16]


@dataclass
class EvalIndex:
    index: Any
    ingest: dict[str, Any]


def build_search_index(
    search_set: SearchSet, store_dir: Path, embedding_function: Any, **search_options: Any
) -> EvalIndex:
    """Index the set's products under store_dir/<content key>; reuse it when it already exists."""
    from retrieval.index import ShopIndex
    from retrieval.store import open_client

    folder = Path(store_dir) / _set_key(search_set, embedding_function)
    client = open_client(folder / "chroma")
    index = ShopIndex(client, embedding_function, lexical_dir=folder / "lexical", **search_options)
    stats_file = folder / "ingest.json"
    start = time.perf_counter()
    stats = index.ingest_products(search_set.products, prune=True)
    seconds = time.perf_counter() - start
    if stats.embedded:
        ingest = {
            "products": len(search_set.products),
            "embedded": stats.embedded,
            "seconds": round(seconds, 1),
            "products_per_s": round(stats.embedded / seconds, 1),
            "cached": False,
        }
        stats_file.write_text(json.dumps(ingest))
    else:
        ingest = json.loads(stats_file.read_text()) if stats_file.exists() else {}
        ingest["cached"] = True
    t0 = time.perf_counter()
    index.products.warm_up()
    ingest["warm_up_s"] = round(time.perf_counter() - t0, 2)
    return EvalIndex(index, ingest)


def evaluate_search(
    eval_index: EvalIndex,
    search_set: SearchSet,
    *,
    modes: Sequence[str] = MODES,
    k: int = 10,
    depth: int = 100,
    max_queries: int | None = None,
    filters: Filters | None = None,
    seed: int = 0,
    learned_folds: int = 0,
) -> dict[str, Any]:
    """Rank every judged query with each mode; metrics, latency and the ingest figures in one dict.

    "hybrid" is the index's product search as configured: with a learned ranker loaded on it
    (`retrieval.ranker`), that ranker orders the hybrid candidates, and `results["hybrid_ranker"]`
    says so (a ranker trained on these very queries makes the number optimistic).
    `learned_folds` > 1 adds the "learned" mode (hybrid candidates re-ranked by LambdaMART): the
    evaluated queries are split into that many folds and each fold is ranked by a model trained on
    every other judged query of the set, so no query is ranked by a model that saw its judgements.
    """
    all_judged = search_set.judged_queries()
    queries = all_judged
    if max_queries and len(queries) > max_queries:
        queries = sorted(random.Random(seed).sample(queries, max_queries))
    search = eval_index.index.products
    configured = search.ranker  # the ranker the configuration loaded, if any: "hybrid" uses it
    results: dict[str, Any] = {"queries": len(queries), "products": len(search_set.products), "modes": {}}
    results["hybrid_ranker"] = (
        {k: v for k, v in configured.meta.items() if k != "features"} if configured is not None else None
    )
    rankers: dict[str, Any] = {}
    if learned_folds > 1:
        rankers = _cross_validated_rankers(search, search_set, all_judged, queries, learned_folds, seed)
        modes = [*modes, "learned"]
        results["learned"] = {
            "folds": learned_folds,
            "training_queries": len(all_judged) - len(queries) // learned_folds,
        }
    for mode in modes:
        ndcgs, recalls, latencies, judged = [], [], [], []
        for qid in queries:
            search.ranker = rankers.get(qid) if mode == "learned" else configured
            start = time.perf_counter()
            hits = search.run(
                search_set.queries[qid],
                top_k=depth,
                mode="hybrid" if mode == "learned" else mode,
                filters=filters,
            ).hits
            latencies.append((time.perf_counter() - start) * 1000)
            ranked = [h.product.id for h in hits]
            ndcgs.append(ndcg_at(ranked, search_set.qrels[qid], k))
            # Condensed list: only judged products, in the retrieved order (unjudged ones are not
            # known to be irrelevant, which matters for sparse judgements like Home Depot's).
            judged.append(
                ndcg_at([p for p in ranked if p in search_set.qrels[qid]], search_set.qrels[qid], k)
            )
            recalls.append(recall_at(ranked, search_set.qrels[qid], depth))
        results["modes"][mode] = {
            f"ndcg@{k}": round(statistics.fmean(ndcgs), 4),
            f"recall@{depth}": round(statistics.fmean(recalls), 4),
            f"ndcg@{k}_judged": round(statistics.fmean(judged), 4),
            "latency_p50_ms": round(percentile(latencies, 0.5), 1),
            "latency_p95_ms": round(percentile(latencies, 0.95), 1),
        }
    search.ranker = configured
    results["ingest"] = eval_index.ingest
    return results


def _cross_validated_rankers(
    search: Any,
    search_set: SearchSet,
    training: Sequence[str],
    evaluated: Sequence[str],
    folds: int,
    seed: int,
) -> dict[str, Any]:
    """query id -> the ranker that ranks it, trained on all judged queries outside its fold."""
    from retrieval.rerank import LearnedRanker, TrainingQuery

    order = list(evaluated)
    random.Random(seed).shuffle(order)
    split = [set(order[i::folds]) for i in range(folds)]
    examples = {
        qid: TrainingQuery(search.training_candidates(search_set.queries[qid]), search_set.qrels[qid])
        for qid in training
    }
    out: dict[str, Any] = {}
    for fold in split:
        model = LearnedRanker.fit([examples[q] for q in training if q not in fold], seed=seed)
        out.update(dict.fromkeys(fold, model))
    return out


def evaluate_intents(
    entries: Sequence[FAQEntry],
    questions: Sequence[tuple[str, str]],
    embedding_function: Any,
    *,
    examples: Sequence[tuple[str, str]] = (),
    folds: int = 5,
    modes: Sequence[Mode] = ("lexical", "dense", "fused"),
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    analyzer: Analyzer | None = None,
) -> dict[str, Any]:
    """Intent accuracy@1/@3 of FAQ retrieval for labelled questions (`analyzer`: the BM25
    analyzer of the FAQ's language, default English).

    Example phrasings are added to their intent's entry. When the examples include the evaluation
    questions themselves, the questions are split into `folds` and each fold is answered with the
    examples of the other folds only (cross-validation), so no question is its own example.
    """
    from retrieval.index import memory_faq_search

    known = {e.id for e in entries}
    unknown = sorted({intent for _, intent in questions if intent not in known})
    if unknown:
        raise ValueError(f"questions name intents missing from the FAQ: {', '.join(unknown[:10])}")
    eval_texts = {q for q, _ in questions}
    overlapping = any(text in eval_texts for text, _ in examples)
    order = list(range(len(questions)))
    random.Random(seed).shuffle(order)
    split = [order[i::folds] for i in range(folds)] if overlapping else [order]
    correct: dict[str, list[int]] = {m: [0, 0] for m in modes}
    fold_modes: list[Mode] = list(modes)
    latencies: list[float] = []
    for fold in split:
        held_out = {questions[i][0] for i in fold} if overlapping else set()
        extra: dict[str, list[str]] = {}
        for text, intent in examples:
            if text not in held_out:
                extra.setdefault(intent, []).append(text)
        fold_entries = [e.model_copy(update={"examples": e.examples + extra.get(e.id, [])}) for e in entries]
        with memory_faq_search(fold_entries, embedding_function, analyzer) as search:
            fold_modes = [*modes, "learned"] if search.classifier is not None else list(modes)
            for mode in fold_modes:
                correct.setdefault(mode, [0, 0])
            for i in fold:
                text, intent = questions[i]
                for mode in fold_modes:
                    start = time.perf_counter()
                    hits = search.run(text, top_k=3, mode=mode).hits
                    if mode == fold_modes[-1]:
                        latencies.append((time.perf_counter() - start) * 1000)
                    ids = [h.entry.id for h in hits]
                    correct[mode][0] += ids[:1] == [intent]
                    correct[mode][1] += intent in ids
                if progress:
                    progress(1)
    n = len(questions)
    return {
        "questions": n,
        "intents": len(entries),
        "examples": len(examples),
        "cross_validated_folds": folds if overlapping else 0,
        "modes": {
            m: {"accuracy@1": round(c[0] / n, 4), "accuracy@3": round(c[1] / n, 4)}
            for m, c in correct.items()
        },
        "latency_mode": fold_modes[-1] if split else "",
        "latency_p50_ms": round(percentile(latencies, 0.5), 1),
        "latency_p95_ms": round(percentile(latencies, 0.95), 1),
    }


def bench_ingest(
    products: Sequence[Product],
    folder: Path,
    embedding_function: Any,
    *,
    batch_sizes: Sequence[int],
    old_mirror: bool = False,
) -> list[dict[str, Any]]:
    """Ingest the same products into a fresh store once per upsert batch size; products/s of each
    and the ratio to the first, in one run (the eval commands cache their index, so they report
    the rate of whichever run built it). `old_mirror` first adds a baseline row per size with every
    title mirrored, as before plain titles were skipped."""
    import shutil

    from retrieval.index import ShopIndex
    from retrieval.store import open_client

    embedding_function(["warm up the model before the clock starts"])
    rows: list[dict[str, Any]] = []
    runs = [(size, True) for size in batch_sizes if old_mirror] + [(size, False) for size in batch_sizes]
    for size, every_title in runs:
        # One folder per run: Chroma keeps a client per path for the process's lifetime.
        store = Path(folder) / f"batch-{size}{'-all-titles' if every_title else ''}"
        shutil.rmtree(store, ignore_errors=True)
        index = ShopIndex(open_client(store / "chroma"), embedding_function, lexical_dir=store / "lexical")
        start = time.perf_counter()
        stats = index.ingest_products(products, batch_size=size, mirror_every_title=every_title)
        seconds = time.perf_counter() - start
        rows.append(
            {
                "titles_mirrored": "all" if every_title else "distinct only",
                "batch_size": size,
                "products": len(products),
                "embedded": stats.embedded,
                "seconds": round(seconds, 1),
                "products_per_s": round(stats.embedded / seconds, 1),
            }
        )
        shutil.rmtree(store, ignore_errors=True)
    for row in rows:
        row["ratio_vs_first"] = round(row["products_per_s"] / rows[0]["products_per_s"], 2)
    return rows


def faq_signals(
    entries: Sequence[FAQEntry],
    questions: Sequence[tuple[str, str]],
    out_of_scope: Sequence[str],
    embedding_function: Any,
    *,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[tuple[FAQSignals, bool]], list[FAQSignals]]:
    """What the FAQ search knows about its top entry for every question: (signals, top-1 is the
    gold intent) for the labelled questions, the signals alone for the out-of-scope ones."""
    from retrieval.index import memory_faq_search

    if not entries:
        raise ValueError("the FAQ has no entries to calibrate")
    known = {e.id for e in entries}
    unknown = sorted({intent for _, intent in questions if intent not in known})
    if unknown:
        raise ValueError(f"questions name intents missing from the FAQ: {', '.join(unknown[:10])}")
    in_scope: list[tuple[FAQSignals, bool]] = []
    oos: list[FAQSignals] = []
    with memory_faq_search(entries, embedding_function) as search:
        for text, intent in questions:
            got = search.run(text, top_k=1)
            assert got.signals is not None  # the FAQ has entries, so there is a top hit
            in_scope.append((got.signals, got.hits[0].entry.id == intent))
            if progress:
                progress(1)
        for text in out_of_scope:
            signals = search.run(text, top_k=1).signals
            assert signals is not None
            oos.append(signals)
            if progress:
                progress(1)
    return in_scope, oos


T = TypeVar("T")


def halves(items: Sequence[T], seed: int = 0) -> tuple[list[T], list[T]]:
    """A fixed random half for fitting and the other half for reporting."""
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    return [items[i] for i in order[0::2]], [items[i] for i in order[1::2]]


CURVE_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)


def evaluate_calibration(
    in_scope: Sequence[tuple[FAQSignals, bool]],
    out_of_scope: Sequence[FAQSignals],
    *,
    features: Sequence[str] | None = None,
    precision: float = 0.95,
    refusal: float = 0.95,
    fixed_threshold: float = 0.6,
    seed: int = 0,
) -> tuple[FAQCalibration, dict[str, Any]]:
    """Fit a calibration on a fixed half of each set and report it on the other half: the chosen
    point, the curve over `CURVE_THRESHOLDS`, and the fixed similarity threshold (today's rule,
    `retrieval.faq_min_score`) on the same reporting half for comparison."""
    from retrieval.calibration import DEFAULT_FEATURES, curve, fit_calibration, operating_point

    fit_in, report_in = halves(in_scope, seed)
    fit_out, report_out = halves(out_of_scope, seed)
    calibration = fit_calibration(
        fit_in, fit_out, features=features or DEFAULT_FEATURES, precision=precision, refusal=refusal
    )
    chosen = curve(calibration, report_in, report_out, [calibration.threshold])[0]
    dense_in = [(s.top_dense, right) for s, right in report_in]
    dense_out = [s.top_dense for s in report_out]
    result = {
        "features": list(calibration.features),
        "fit": {"in_scope": len(fit_in), "out_of_scope": len(fit_out), **calibration.meta["fit"]},
        "report": {"in_scope": len(report_in), "out_of_scope": len(report_out)},
        "top1_accuracy": round(sum(right for _, right in report_in) / max(len(report_in), 1), 4),
        "targets": calibration.meta["targets"],
        "chosen": chosen,
        "curve": curve(calibration, report_in, report_out, CURVE_THRESHOLDS),
        "fixed_threshold": operating_point(fixed_threshold, dense_in, dense_out),
        "fixed_threshold_curve": [operating_point(t, dense_in, dense_out) for t in (0.4, 0.5, 0.6, 0.7, 0.8)],
    }
    return calibration, result


# ---------------------------------------------------------------- languages (issue 21)


def load_cross_language(
    path: str | Path, dev_questions: str | Path | None = None
) -> tuple[list[str], list[dict[str, str]]]:
    """The cross-language question set: columns id, intent and one column per language (zh, de,
    ...) holding the same question; returns the languages and the rows. The English original is
    not committed (it is Bitext's text): a `dev_row` column names its row in Bitext's
    `questions_dev.csv`, read from `dev_questions` when given (else English is left out)."""
    import csv

    with Path(path).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = [dict(r) for r in reader]
        languages = [c for c in (reader.fieldnames or []) if c not in ("id", "intent", "dev_row")]
    if dev_questions is not None and Path(dev_questions).exists() and rows and "dev_row" in rows[0]:
        with Path(dev_questions).open(newline="", encoding="utf-8") as handle:
            english = [r["question"] for r in csv.DictReader(handle)]
        for row in rows:
            row["en"] = english[int(row["dev_row"])]
        languages = ["en", *languages]
    return languages, rows


def evaluate_cross_language(
    entries: Sequence[FAQEntry],
    rows: Sequence[dict[str, str]],
    languages: Sequence[str],
    embedding_function: Any,
    *,
    modes: Sequence[Mode] = ("dense", "lexical", "fused"),
    reference: str = "en",
) -> dict[str, Any]:
    """The same questions in each language routed against one FAQ (Bitext's English one): cold
    accuracy@1/@3 per language and mode, and each language's accuracy@1 over the `reference`
    language's on the same questions (the issue's bar: >= 0.85 for zh and de in dense mode)."""
    per_language: dict[str, Any] = {}
    for language in languages:
        questions = [(r[language], r["intent"]) for r in rows if r.get(language)]
        per_language[language] = evaluate_intents(entries, questions, embedding_function, modes=modes)
    ratios: dict[str, dict[str, float | None]] = {}
    if reference in per_language:
        for language, result in per_language.items():
            ratios[language] = {}
            for mode, metrics in result["modes"].items():
                base = per_language[reference]["modes"].get(mode, {}).get("accuracy@1", 0.0)
                ratios[language][mode] = round(metrics["accuracy@1"] / base, 4) if base else None
    return {
        "questions": len(rows),
        "reference": reference,
        "languages": {
            lang: {"questions": r["questions"], "modes": r["modes"]} for lang, r in per_language.items()
        },
        "ratio_to_reference": ratios,
    }


def ndcg_summary(result: dict[str, Any], k: int = 10) -> dict[str, float]:
    """mode -> nDCG@k of an `evaluate_search` result, for one-line tables."""
    return {mode: metrics[f"ndcg@{k}"] for mode, metrics in result["modes"].items()}
