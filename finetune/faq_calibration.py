"""A calibrated "no confident match" for a new shop, fitted on public intent sets.

`shopassist calibrate-faq` fits when an FAQ match is confident from the shop's own labelled
questions, which a shop starting out does not have; the fixed `faq_min_score` it falls back to
answers too many questions wrongly (Bitext cold: precision 0.915). This fits the same calibration
(`retrieval.calibration`: a logistic regression over the search's own signals, then the probability
at which to answer) on public FAQs instead, never on a shop's data: CLINC150's ten domains of
fifteen intents each and BANKING77's intents in four groups, each group an FAQ whose entries are
its intent names and whose questions are the set's test utterances, with CLINC150's out-of-scope
test utterances as the questions every FAQ must refuse. Many small same-domain FAQs look like a
shop's FAQ; one pooled FAQ of all 150 intents chose a threshold far too strict for a 27-entry FAQ
(Bitext answered right 0.21 instead of 0.34, at the same precision). The shipped calibration
(`retrieval/shipped/faq-calibration`) was fitted this way for plain MiniLM; measured on Bitext,
which it never saw: docs/benchmarks.md (session 18).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finetune.faq_embedder import read_banking, read_clinc
from retrieval.calibration import FAQCalibration, FAQSignals, fit_calibration
from retrieval.datasets import humanize_intent
from retrieval.evaluate import faq_signals
from retrieval.rows import CatalogError
from retrieval.schema import FAQEntry

# Where the public sets come from, and their licences (recorded in the calibration's meta).
SOURCES = {
    "clinc150": (
        "https://github.com/clinc/oos-eval (data/data_full.json: test and oos_test; data/domains.json)",
        "CC BY 3.0",
    ),
    "banking77": (
        "https://github.com/PolyAI-LDN/task-specific-datasets (banking_data/test.csv)",
        "CC BY 4.0",
    ),
}


@dataclass(frozen=True)
class PublicFAQ:
    """One FAQ made of public intents: entries named after the intents, labelled questions."""

    name: str
    entries: list[FAQEntry]
    questions: list[tuple[str, str]]


def _faq(name: str, questions: list[tuple[str, str]]) -> PublicFAQ:
    intents = sorted({intent for _, intent in questions})
    entries = [
        FAQEntry(id=i, category=name, question=humanize_intent(i), answer=humanize_intent(i)) for i in intents
    ]
    return PublicFAQ(name, entries, questions)


def load_public_faqs(
    clinc: Path | None = None,
    clinc_domains: Path | None = None,
    banking: Path | None = None,
    *,
    banking_groups: int = 4,
    seed: int = 0,
) -> tuple[list[PublicFAQ], list[str]]:
    """The public FAQs and the out-of-scope questions (CLINC150's oos_test; so CLINC150 is
    required). A missing or malformed file is an error that says which and what it should hold."""
    if clinc is None or clinc_domains is None:
        raise CatalogError(
            "give CLINC150's data_full.json and domains.json (its out-of-scope questions are the ones to "
            "refuse); BANKING77's test.csv is optional"
        )
    data = read_clinc(clinc, ("test", "oos_test"))
    test, out_of_scope = data["test"], [text for text, _ in data["oos_test"]]
    try:
        domains = json.loads(Path(clinc_domains).read_text(encoding="utf-8"))
        groups = {str(name): {str(i) for i in intents} for name, intents in domains.items()}
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        raise CatalogError(
            f"{clinc_domains}: not CLINC150's domains.json (an object of domain -> list of intents): {exc}"
        ) from exc
    faqs = [
        _faq(f"clinc150/{name}", [q for q in test if q[1] in intents]) for name, intents in groups.items()
    ]
    faqs = [f for f in faqs if f.questions]
    if not faqs:
        raise CatalogError(f"{clinc_domains}: its domains name none of the intents in {clinc}'s test split")
    if banking is not None:
        rows = read_banking(banking, "test")
        intents = sorted({intent for _, intent in rows})
        random.Random(seed).shuffle(intents)
        for g in range(banking_groups):
            chosen = set(intents[g::banking_groups])
            if chosen:
                faqs.append(_faq(f"banking77/{g}", [q for q in rows if q[1] in chosen]))
    return faqs, out_of_scope


def fit_public_calibration(
    faqs: Sequence[PublicFAQ],
    out_of_scope: Sequence[str],
    embedding_function: Any,
    *,
    embedding: str,
    precision: float = 0.95,
    refusal: float = 0.95,
    out_of_scope_per_faq: int = 300,
    seed: int = 0,
    progress: Callable[[str, float], None] | None = None,
) -> FAQCalibration:
    """Pool every FAQ's signals (a sample of `out_of_scope_per_faq` off-topic questions put to each)
    and fit one calibration; `embedding` names the model whose similarities it was fitted on
    (`retrieval.store.embedding_tag`), since a calibration only holds for that model."""
    pooled_in: list[tuple[FAQSignals, bool]] = []
    pooled_out: list[FAQSignals] = []
    top1: dict[str, float] = {}
    for faq in faqs:
        asked = random.Random(f"{seed}:{faq.name}").sample(
            list(out_of_scope), min(out_of_scope_per_faq, len(out_of_scope))
        )
        in_scope, oos = faq_signals(faq.entries, faq.questions, asked, embedding_function)
        pooled_in += in_scope
        pooled_out += oos
        top1[faq.name] = round(sum(right for _, right in in_scope) / len(in_scope), 4)
        if progress:
            progress(faq.name, top1[faq.name])
    calibration = fit_calibration(pooled_in, pooled_out, precision=precision, refusal=refusal)
    calibration.meta.update(
        {
            "fitted_on": "public FAQs (finetune.faq_calibration)",
            "embedding": embedding,
            "faqs": {
                f.name: {"entries": len(f.entries), "questions": len(f.questions), "top1": top1[f.name]}
                for f in faqs
            },
            "sources": {k: {"where": w, "licence": lic} for k, (w, lic) in SOURCES.items()},
            "seed": seed,
        }
    )
    return calibration
