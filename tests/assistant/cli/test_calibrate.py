"""`shopassist calibrate-faq` on a tiny FAQ with hashing embeddings (no model), and the shop wiring
of `retrieval.faq_calibration`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli.main import cli
from tests.conftest import HashEmbedding

FAQ = """intent,category,answer
get_refund,REFUND,Refunds go back to the card you paid with within five days.
track_order,ORDER,The tracking link is in the shipping e-mail.
cancel_order,ORDER,Open your orders and press cancel.
"""
IN_SCOPE = [
    ("how do i get a refund", "get_refund"),
    ("i want a refund for my card", "get_refund"),
    ("refund my money please", "get_refund"),
    ("get refund now", "get_refund"),
    ("can i get my refund", "get_refund"),
    ("where is my order tracking link", "track_order"),
    ("track my order", "track_order"),
    ("how do i track the order", "track_order"),
    ("track order shipping e-mail", "track_order"),
    ("order tracking please", "track_order"),
    ("cancel my order", "cancel_order"),
    ("i want to cancel the order", "cancel_order"),
    ("please cancel order", "cancel_order"),
    ("how to cancel an order", "cancel_order"),
    ("cancel it", "cancel_order"),
    ("order", "get_refund"),  # ambiguous: routed elsewhere, so a wrong top
    ("my card", "cancel_order"),
    ("where", "cancel_order"),
]
OUT_OF_SCOPE = [
    "what is the weather in paris",
    "who won the football game",
    "tell me a joke",
    "hello there",
    "write a poem about the sea",
    "what is the capital of france",
    "how do i reverse a list in python",
    "recommend a good dentist",
]


@pytest.fixture
def files(cli_env, monkeypatch):
    monkeypatch.setattr(
        "assistant.shop.embedding_function", lambda settings, cache=True, faq=False: HashEmbedding()
    )
    (cli_env / "faq.csv").write_text(FAQ)
    (cli_env / "q.csv").write_text("question,intent\n" + "".join(f"{q},{i}\n" for q, i in IN_SCOPE))
    (cli_env / "oos.csv").write_text("question,kind\n" + "".join(f"{q},x\n" for q in OUT_OF_SCOPE))
    return cli_env


def calibrate(*extra: str):
    args = ["calibrate-faq", "--faq", "faq.csv", "--questions", "q.csv", "--out-of-scope", "oos.csv", *extra]
    return CliRunner().invoke(cli, args)


def test_calibrate_writes_a_calibration_to_the_shop_home_and_reports_the_other_half(files):
    result = calibrate("--json", "out.json")
    assert result.exit_code == 0, result.output
    written = files / "home" / "faq_calibration.json"
    assert f"wrote {written}" in result.output and "retrieval.faq_calibration" in result.output
    assert "fixed dense >= 0.6" in result.output and "chosen p >=" in result.output
    from retrieval.calibration import FAQCalibration

    calibration = FAQCalibration.load(written)
    assert calibration.features == ("top_dense", "margin", "lexical_agrees", "word_overlap")
    assert calibration.meta["in_scope"] == len(IN_SCOPE) // 2 and calibration.meta["faq_file"] == "faq.csv"
    assert calibration.meta["out_of_scope"] == len(OUT_OF_SCOPE) // 2
    report = json.loads((files / "out.json").read_text())
    assert report["report"] == {"in_scope": len(IN_SCOPE) // 2, "out_of_scope": len(OUT_OF_SCOPE) // 2}
    assert report["chosen"]["threshold"] == round(calibration.threshold, 4)


def test_examples_train_the_router_and_its_margin_joins_the_signals(files):
    words = {"get_refund": "refund money", "track_order": "track parcel", "cancel_order": "cancel order"}
    rows = [
        f"{w} {t} {n},{i}\n" for i, w in words.items() for t in ("now", "today", "pls", "asap") for n in "abc"
    ]
    rows.append("track my order,track_order\n")  # also a question: left out, it would grade itself
    (files / "ex.csv").write_text("question,intent\n" + "".join(rows))
    result = calibrate("--examples", "ex.csv", "--output", "taught.json")
    assert result.exit_code == 0, result.output
    from retrieval.calibration import ROUTER_FEATURES, FAQCalibration

    calibration = FAQCalibration.load(files / "taught.json")
    assert calibration.features == ROUTER_FEATURES and calibration.meta["examples_file"] == "ex.csv"


def test_calibrate_options_are_checked(files):
    bad = calibrate("--features", "top_dense,colour")
    assert bad.exit_code == 2 and "unknown signal(s) colour" in bad.output
    (files / "oos.csv").write_text("text\nhello\n")
    missing = calibrate()
    assert missing.exit_code == 1 and "needs a 'question' column (found: text)" in missing.output
    assert not (files / "home" / "faq_calibration.json").exists()


def test_only_the_top_dense_signal_is_a_fitted_threshold(files):
    result = calibrate("--features", "top_dense", "--output", "dense.json")
    assert result.exit_code == 0, result.output
    from retrieval.calibration import FAQCalibration, FAQSignals

    calibration = FAQCalibration.load(files / "dense.json")
    low, high = FAQSignals(0.1, 0.0, False, 0.0), FAQSignals(0.95, 0.0, False, 0.0)
    assert calibration.probability(high) > calibration.probability(low)  # monotone in similarity


def test_configured_calibration_is_loaded_and_a_bad_one_is_a_config_error(files):
    from assistant.config import load_settings
    from assistant.errors import ConfigError, exit_code
    from assistant.shop import _load_faq_calibration

    assert _load_faq_calibration(load_settings()) is None
    assert calibrate().exit_code == 0
    settings = load_settings()
    settings.retrieval.faq_calibration = Path("faq_calibration.json")  # relative: read from the shop home
    assert _load_faq_calibration(settings).features[0] == "top_dense"
    (files / "home" / "faq_calibration.json").write_text("{}")
    with pytest.raises(ConfigError) as info:
        _load_faq_calibration(settings)
    assert "retrieval.faq_calibration" in str(info.value) and "shopassist calibrate-faq" in str(info.value)
    assert exit_code(info.value) == 78


class _Named:
    """An embedding function as the calibration check sees it: a name and a config."""

    def __init__(self, name: str, config: dict | None = None) -> None:
        self._name, self._config = name, config or {}

    def name(self) -> str:
        return self._name

    def get_config(self) -> dict:
        return self._config


def test_the_shipped_calibration_holds_only_for_the_model_it_was_fitted_with(files, monkeypatch):
    from assistant.config import load_settings
    from assistant.shop import _load_faq_calibration

    assert load_settings().retrieval.faq_calibration is None  # opt-in: faq_min_score by default
    monkeypatch.setenv("SHOPASSIST_RETRIEVAL__FAQ_CALIBRATION", "shipped")
    settings = load_settings()
    shipped = _load_faq_calibration(settings, _Named("shopassist-minilm"))
    assert shipped is not None and shipped.meta["embedding"] == "shopassist-minilm"
    assert shipped.meta["report"]["calibration"]["precision"] >= 0.95  # its own record of Bitext
    adapted = _Named("shopassist-minilm", {"adapter_tag": "abc123"})
    assert _load_faq_calibration(settings, adapted) is None  # an adapter's scale: faq_min_score decides
    assert _load_faq_calibration(settings, _Named("shopassist-multilingual")) is None
    settings.embedding.model = files / "my-minilm"
    assert _load_faq_calibration(settings, _Named("shopassist-minilm")) is None


def test_a_shop_calibration_fitted_for_another_embedding_is_an_error_to_refit(files):
    from assistant.config import load_settings
    from assistant.errors import ConfigError
    from assistant.shop import _load_faq_calibration

    assert calibrate().exit_code == 0
    settings = load_settings()
    settings.retrieval.faq_calibration = Path("faq_calibration.json")
    assert _load_faq_calibration(settings, HashEmbedding()).meta["embedding"] == "test-hash"
    with pytest.raises(ConfigError, match="fitted for the FAQ embedding test-hash.*refit it"):
        _load_faq_calibration(settings, _Named("shopassist-minilm"))


CLINC_INTENTS = {
    "shopping": ["cancel_order", "track_order", "get_refund"],
    "travel": ["book_flight", "book_hotel", "car_rental"],
}


@pytest.fixture
def public(files):
    words = {i: i.replace("_", " ") for intents in CLINC_INTENTS.values() for i in intents}
    test = [[f"{w} {x}", i] for i, w in words.items() for x in ("please", "now", "for me", "today")]
    test += [["hello there", "cancel_order"], ["my card", "book_hotel"]]  # routed wrong: negatives
    oos = [[q, "oos"] for q in OUT_OF_SCOPE]
    (files / "clinc.json").write_text(json.dumps({"test": test, "oos_test": oos}))
    (files / "domains.json").write_text(json.dumps(CLINC_INTENTS))
    banking = [("card arrival " + x, "card_arrival") for x in ("when", "where", "soon")]
    banking += [("exchange rate " + x, "exchange_rate") for x in ("today", "usd", "eur")]
    (files / "banking.csv").write_text("text,category\n" + "".join(f"{t},{c}\n" for t, c in banking))
    return files


def calibrate_public(*extra: str):
    args = ["calibrate-faq-public", "--clinc", "clinc.json", "--clinc-domains", "domains.json", *extra]
    return CliRunner().invoke(cli, args)


def test_calibrate_faq_public_fits_small_public_faqs_and_reports_a_faq_it_never_saw(public):
    result = calibrate_public(
        "--banking",
        "banking.csv",
        "--output",
        "public.json",
        "--report-faq",
        "faq.csv",
        "--report-questions",
        "q.csv",
        "--report-out-of-scope",
        "oos.csv",
        "--json",
        "out.json",
    )
    assert result.exit_code == 0, result.output
    from retrieval.calibration import FAQCalibration

    calibration = FAQCalibration.load(public / "public.json")
    meta = calibration.meta
    assert meta["embedding"] == "test-hash" and set(meta["sources"]) == {"clinc150", "banking77"}
    # one FAQ per CLINC150 domain and one per non-empty BANKING77 group (its 2 intents in 4 groups)
    faqs = meta["faqs"]
    assert faqs["clinc150/shopping"] == {
        "entries": 3,
        "questions": 13,
        "top1": faqs["clinc150/shopping"]["top1"],
    }
    assert sorted(f["questions"] for name, f in faqs.items() if name.startswith("banking77/")) == [3, 3]
    assert meta["in_scope"] == 26 + 6 and meta["out_of_scope"] == len(OUT_OF_SCOPE) * len(faqs)
    assert "public calibration p >=" in result.output and "fixed dense >= 0.6" in result.output
    report = json.loads((public / "out.json").read_text())["report"]
    assert report["questions"] == len(IN_SCOPE) and report["out_of_scope"] == len(OUT_OF_SCOPE)
    assert report["calibration"]["threshold"] == round(calibration.threshold, 4)


def test_calibrate_faq_public_says_what_is_wrong_with_its_input(public):
    partial = calibrate_public("--output", "x.json", "--report-faq", "faq.csv")
    assert (
        partial.exit_code == 2
        and "--report-faq, --report-questions and --report-out-of-scope" in partial.output
    )
    (public / "clinc.json").write_text(json.dumps({"train": []}))
    bad = calibrate_public("--output", "x.json")
    assert bad.exit_code == 1 and "not CLINC150's data_full.json" in bad.output
    assert not (public / "x.json").exists()
