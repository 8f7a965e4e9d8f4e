"""The FAQ calibration fitted on public intent sets: its FAQs, and the shipped one on Bitext."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

from finetune.faq_calibration import load_public_faqs
from retrieval.rows import CatalogError

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = ROOT.parent / "shared" / "data"


def test_each_domain_and_banking_group_is_one_faq_of_intent_names(tmp_path):
    clinc, domains, banking = tmp_path / "full.json", tmp_path / "domains.json", tmp_path / "test.csv"
    clinc.write_text(
        json.dumps(
            {
                "test": [
                    ["freeze it", "freeze_account"],
                    ["book a room", "book_hotel"],
                    ["pay it", "pay_bill"],
                ],
                "oos_test": [["tell me a joke", "oos"]],
            }
        )
    )
    domains.write_text(
        json.dumps({"banking": ["freeze_account", "pay_bill"], "travel": ["book_hotel"], "x": ["y"]})
    )
    banking.write_text(
        "text,category\nwhere is my card,card_arrival\nrate today,exchange_rate\nfee?,card_fee\n"
    )
    faqs, oos = load_public_faqs(clinc, domains, banking, banking_groups=2)
    assert oos == ["tell me a joke"]
    by_name = {f.name: f for f in faqs}
    assert set(by_name) == {
        "clinc150/banking",
        "clinc150/travel",
        "banking77/0",
        "banking77/1",
    }  # "x": no test
    bank = by_name["clinc150/banking"]
    assert [e.question for e in bank.entries] == ["freeze account", "pay bill"]
    assert bank.questions == [("freeze it", "freeze_account"), ("pay it", "pay_bill")]
    assert sorted(len(by_name[f"banking77/{g}"].entries) for g in (0, 1)) == [1, 2]
    with pytest.raises(CatalogError, match="give CLINC150's data_full.json and domains.json"):
        load_public_faqs(clinc, None, banking)
    domains.write_text(json.dumps({"travel": ["nothing_here"]}))
    with pytest.raises(CatalogError, match="name none of the intents"):
        load_public_faqs(clinc, domains)


@pytest.mark.slow
def test_the_shipped_calibration_answers_bitext_precisely_and_refuses_off_topic_questions():
    """Fitted on CLINC150 and BANKING77 only; 1,000 Bitext questions and the chat's out-of-scope
    set, plain MiniLM (docs/benchmarks.md has all 5,165: precision 0.961, refused 0.962)."""
    data = SHARED_DATA / "cs"
    if not (data / "faq.csv").exists():
        pytest.skip(f"Bitext is not in {data} (see ../shared/data/README.md)")
    from retrieval.calibration import SHIPPED_FAQ_CALIBRATION, FAQCalibration, curve
    from retrieval.datasets import load_intent_faq, load_labelled_questions
    from retrieval.embeddings import MiniLMEmbeddingFunction
    from retrieval.evaluate import faq_signals

    calibration = FAQCalibration.load(SHIPPED_FAQ_CALIBRATION)
    asked = random.Random(0).sample(load_labelled_questions(data / "questions_dev.csv"), 1000)
    with (ROOT / "tests" / "data" / "chat" / "out_of_scope.csv").open(newline="") as handle:
        off_topic = [row["question"] for row in csv.DictReader(handle)]
    in_scope, oos = faq_signals(
        load_intent_faq(data / "faq.csv"), asked, off_topic, MiniLMEmbeddingFunction()
    )
    point = curve(calibration, in_scope, oos, [calibration.threshold])[0]
    assert point["precision"] >= 0.95 and point["oos_refused"] >= 0.95, point
    assert point["coverage"] >= 0.3, point  # and it still answers a third of them, right
