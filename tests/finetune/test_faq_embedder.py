"""The FAQ embedding adapter: its training data, its training, and the shipped adapter's effect."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from finetune.faq_embedder import FAQEmbedderConfig, _typo, load_intent_pairs, step_count, train_faq_embedder
from retrieval.embeddings import SHIPPED_FAQ_ADAPTER, EmbeddingModelNotFound, resolve_adapter
from retrieval.rows import CatalogError

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _sets(tmp_path: Path) -> tuple[Path, Path]:
    clinc = tmp_path / "data_full.json"
    clinc.write_text(
        json.dumps(
            {
                "train": [["what's my balance", "balance"], ["freeze my card", "freeze_account"]],
                "val": [["how much money do i have", "balance"]],
                "oos_train": [["tell me a joke about cats", "oos"]],
            }
        )
    )
    banking = tmp_path / "train.csv"
    banking.write_text(
        "text,category\nmy card has not arrived,card_arrival\nwhere is my new card,card_arrival\n"
    )
    return clinc, banking


def test_public_intent_sets_become_utterance_and_intent_name_pairs(tmp_path):
    clinc, banking = _sets(tmp_path)
    pairs = load_intent_pairs(clinc, banking)
    assert ("freeze my card", "freeze account", "clinc150") in pairs  # names read as words
    assert ("where is my new card", "card arrival", "banking77") in pairs
    assert len(pairs) == 5  # train and val; out-of-scope utterances have no intent to learn
    with pytest.raises(CatalogError, match="no training utterances"):
        load_intent_pairs()
    (tmp_path / "bad.json").write_text('{"train": []}')
    with pytest.raises(CatalogError, match="not CLINC150's data_full.json"):
        load_intent_pairs(tmp_path / "bad.json")
    (tmp_path / "bad.csv").write_text("utterance,label\nhi,greet\n")
    with pytest.raises(CatalogError, match=r"not BANKING77's train.csv \(columns text, category\)"):
        load_intent_pairs(banking=tmp_path / "bad.csv")


def test_typos_change_long_words_only_and_are_seeded():
    text = "i would like to cancel my order today"
    noisy = _typo(text, 1.0, random.Random(3))
    assert noisy != text and noisy == _typo(text, 1.0, random.Random(3))
    assert [w for w in noisy.split() if len(w) <= 2] == ["i", "to", "my"]
    assert _typo(text, 0.0, random.Random(3)) == text


def test_an_adapter_setting_must_name_a_peft_folder(tmp_path):
    assert resolve_adapter("") is None and resolve_adapter(None) is None
    with pytest.raises(EmbeddingModelNotFound, match="has no adapter_config.json"):
        resolve_adapter(tmp_path)
    assert resolve_adapter("shipped") == SHIPPED_FAQ_ADAPTER
    record = json.loads((SHIPPED_FAQ_ADAPTER / "record.json").read_text())
    assert record["sources"]["clinc150"]["licence"] == "CC BY 3.0"  # where its knowledge came from


@pytest.mark.slow
def test_a_trained_adapter_loads_merged_and_changes_the_vectors(tmp_path):
    from retrieval.embeddings import MiniLMEmbeddingFunction

    clinc, banking = _sets(tmp_path)
    config = FAQEmbedderConfig(batch_size=2, learning_rate=1e-2)
    record = train_faq_embedder(load_intent_pairs(clinc, banking), tmp_path / "adapter", config)
    assert record["steps"] == 3 == step_count(load_intent_pairs(clinc, banking), config)
    assert record["utterances"] == {"clinc150": 3, "banking77": 2}
    plain = np.asarray(MiniLMEmbeddingFunction(cache=False)(["where is my card"])[0])
    adapted = np.asarray(
        MiniLMEmbeddingFunction(cache=False, adapter=str(tmp_path / "adapter"))(["where is my card"])[0]
    )
    assert abs(float(np.linalg.norm(adapted)) - 1.0) < 1e-2  # still unit vectors (bf16 where fast)
    assert float(plain @ adapted) < 0.9999  # the merged weights changed the model


@pytest.mark.slow
def test_the_shipped_adapter_routes_bitext_questions_it_never_saw_better_than_plain_minilm():
    """Cold routing (entry name and answer, best of the two) on 400 Bitext questions: the adapter
    learned from other domains' intent sets only (docs/benchmarks.md has the whole set)."""
    data = SHARED_DATA / "cs"
    if not (data / "faq.csv").exists():
        pytest.skip(f"Bitext is not in {data} (see ../shared/data/README.md)")
    from retrieval.datasets import load_intent_faq, load_labelled_questions
    from retrieval.embeddings import MiniLMEmbeddingFunction

    entries = load_intent_faq(data / "faq.csv")
    asked = random.Random(0).sample(load_labelled_questions(data / "questions_dev.csv"), 400)
    ids = [e.id for e in entries]
    gold = np.array([ids.index(intent) for _, intent in asked])

    def accuracy(embed: MiniLMEmbeddingFunction) -> float:
        q = np.asarray(embed([text for text, _ in asked]))
        names, answers = (
            np.asarray(embed([e.question for e in entries])),
            np.asarray(embed([e.answer for e in entries])),
        )
        return float((np.maximum(q @ names.T, q @ answers.T).argmax(1) == gold).mean())

    plain = accuracy(MiniLMEmbeddingFunction(cache=False, dtype="float32"))
    adapted = accuracy(
        MiniLMEmbeddingFunction(cache=False, dtype="float32", adapter=str(SHIPPED_FAQ_ADAPTER))
    )
    assert adapted >= plain + 0.02, (plain, adapted)
