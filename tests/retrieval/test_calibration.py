"""The calibrated FAQ decision: fitting on synthetic signals, the file format, and FAQSearch using it
(hashing embeddings: no model)."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest

from retrieval.calibration import (
    CalibrationError,
    FAQCalibration,
    FAQSignals,
    choose_threshold,
    curve,
    fit_calibration,
)
from retrieval.evaluate import evaluate_calibration, halves
from retrieval.schema import FAQEntry


def _synthetic(seed: int = 0) -> tuple[list[tuple[FAQSignals, bool]], list[FAQSignals]]:
    """In-scope questions routed right are close with a clear margin; wrong ones are close but
    tied with the runner-up; out-of-scope ones are far and share no words. The fixed 0.6
    threshold cannot separate them: many right ones score under it, wrong ones over it."""
    rng = random.Random(seed)
    right = [
        (
            FAQSignals(
                rng.uniform(0.45, 0.8), rng.uniform(0.2, 0.35), rng.random() < 0.8, rng.uniform(0.3, 1)
            ),
            True,
        )
        for _ in range(300)
    ]
    wrong = []
    for _ in range(60):
        top = rng.uniform(0.5, 0.7)
        wrong.append(
            (FAQSignals(top, top - rng.uniform(0, 0.03), rng.random() < 0.2, rng.uniform(0, 0.4)), False)
        )
    oos = [
        FAQSignals(rng.uniform(0.1, 0.45), rng.uniform(0.05, 0.4), False, rng.uniform(0, 0.2))
        for _ in range(200)
    ]
    return right + wrong, oos


def test_fitted_rule_refuses_wrong_and_out_of_scope_and_beats_the_fixed_threshold():
    in_scope, oos = _synthetic()
    calibration = fit_calibration(in_scope, oos)
    assert calibration.meta["targets"]["met_on_fit"]
    fresh_in, fresh_oos = _synthetic(seed=1)  # new draws: not the fitted questions
    point = curve(calibration, fresh_in, fresh_oos, [calibration.threshold])[0]
    assert point["precision"] >= 0.95 and point["oos_refused"] >= 0.95
    assert point["coverage"] > 0.8
    # A wrong top tied with the runner-up is refused even when it is very close in meaning...
    assert not calibration.confident(FAQSignals(0.7, 0.69, False, 0.2))
    # ...and a right one with a clear margin is answered under the old 0.6 bar.
    assert calibration.confident(FAQSignals(0.5, 0.25, True, 0.8))
    fixed_right = sum(s.top_dense >= 0.6 and right for s, right in fresh_in) / len(fresh_in)
    assert point["coverage"] > fixed_right


def test_unreachable_targets_give_the_best_trade_off_and_say_so():
    same = FAQSignals(0.5, 0.3, True, 0.5)
    in_scope = [(same, True)] * 10 + [(same, False)] * 10  # indistinguishable: precision is 0.5 at best
    calibration = fit_calibration(in_scope, [FAQSignals(0.2, 0.1, False, 0.0)] * 5)
    assert calibration.meta["targets"]["met_on_fit"] is False
    _, met = choose_threshold(calibration, in_scope, [], precision=0.95, refusal=0.95)
    assert not met


def test_fit_needs_both_classes():
    with pytest.raises(
        CalibrationError, match="both in-scope questions routed right and questions it must refuse"
    ):
        fit_calibration([(FAQSignals(0.9, 0.1, True, 1.0), True)], [])


def test_evaluate_reports_on_the_half_it_did_not_fit():
    in_scope, oos = _synthetic()
    _, result = evaluate_calibration(in_scope, oos)
    assert result["fit"]["in_scope"] + result["report"]["in_scope"] == len(in_scope)
    assert result["report"]["out_of_scope"] == len(oos) // 2
    assert result["fixed_threshold"]["threshold"] == 0.6
    assert result["chosen"]["oos_refused"] >= 0.9
    first, second = halves(list(range(11)), seed=3)
    assert sorted(first + second) == list(range(11)) and halves(list(range(11)), seed=3) == (first, second)


def test_saved_file_loads_back_with_the_same_decisions(tmp_path):
    in_scope, oos = _synthetic()
    calibration = fit_calibration(in_scope, oos)
    loaded = FAQCalibration.load(calibration.save(tmp_path / "cal.json"))
    for signals, _ in in_scope[:50]:
        assert loaded.probability(signals) == pytest.approx(calibration.probability(signals))
    assert loaded.threshold == calibration.threshold and loaded.features == calibration.features


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read FAQ calibration"),
        ("{not json", "cannot read FAQ calibration"),
        ('{"format": "shopassist-ranker/1"}', "is not an FAQ calibration"),
        ("[1, 2]", "is not an FAQ calibration"),
        ('{"format": "shopassist-faq-calibration/1", "features": ["top_dense"]}', "malformed"),
        (
            '{"format": "shopassist-faq-calibration/1", "features": ["colour"], "coef": [1], "intercept": 0, '
            '"threshold": 0.5}',
            "unknown calibration feature(s) colour",
        ),
        (
            '{"format": "shopassist-faq-calibration/1", "features": ["top_dense"], "coef": [1, 2], '
            '"intercept": 0, "threshold": 0.5}',
            "2 coefficients for 1 features",
        ),
        (
            '{"format": "shopassist-faq-calibration/1", "features": ["top_dense"], "coef": [1], '
            '"intercept": 0, "threshold": 7}',
            "must be in 0..1",
        ),
    ],
)
def test_bad_calibration_file_says_what_to_fix(tmp_path, content, message):
    path = tmp_path / "cal.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(CalibrationError) as info:
        FAQCalibration.load(path)
    assert message in str(info.value)
    if content is None or "{not" in content or "ranker" in content:
        assert "shopassist calibrate-faq" in str(info.value)


def _faq() -> list[FAQEntry]:
    return [
        FAQEntry(
            id="refund", category="refunds", question="how do i get a refund", answer="Refunds take 5 days."
        ),
        FAQEntry(
            id="track", category="orders", question="where is my order tracking", answer="Use the link."
        ),
        FAQEntry(
            id="cancel", category="orders", question="cancel my order", answer="Click cancel in orders."
        ),
    ]


def test_faq_search_uses_the_calibration_else_the_fixed_threshold(tmp_path):
    from retrieval.index import memory_faq_search
    from tests.conftest import HashEmbedding

    with memory_faq_search(_faq(), HashEmbedding()) as search:
        plain = search.run("how do i get a refund")
        assert plain.hits[0].entry.id == "refund" and plain.confident  # min_score 0 here
        assert not plain.calibrated and plain.probability is None
        signals = plain.signals
        assert signals is not None and signals.lexical_agrees and signals.word_overlap == 1.0
        assert signals.top_dense > signals.second_dense
        # A calibration that only trusts a near-exact wording (dense >= 0.99).
        search.calibration = FAQCalibration(("top_dense",), (100.0,), -99.0, 0.5)
        exact = search.run("how do i get a refund")
        assert exact.calibrated and exact.confident and exact.best is not None and exact.threshold == 0.5
        assert exact.probability is not None and exact.probability > 0.5
        loose = search.run("refund please for the weather")
        assert loose.hits and loose.calibrated and not loose.confident and loose.best is None
        # The same question passes the fixed threshold without the calibration.
        search.calibration = None
        assert search.run("refund please for the weather").confident


def test_the_learned_routers_margin_is_a_signal_once_it_routes():
    from retrieval.index import memory_faq_search
    from tests.conftest import HashEmbedding

    with memory_faq_search(_faq(), HashEmbedding()) as cold:
        assert cold.classifier is None and cold.run("how do i get a refund").signals.router_margin == 0.0
    phrasings = {
        "refund": ["refund please", "money back", "get my money back", "refund my card"],
        "track": ["where is my parcel", "track parcel", "tracking number", "order location"],
        "cancel": ["cancel it", "stop my order", "cancel purchase", "do not send it"],
    }
    taught = [
        e.model_copy(
            update={"examples": [f"{p} {t}" for p in phrasings[e.id] for t in ("now", "today", "pls")]}
        )
        for e in _faq()
    ]
    with memory_faq_search(taught, HashEmbedding()) as search:
        assert search.classifier is not None
        got = search.run("get my money back")
        assert got.hits[0].entry.id == "refund" and got.signals is not None
        assert got.signals.router_margin == pytest.approx(got.hits[0].score) and got.signals.router_margin > 0
        # A cold calibration (no router margin among its signals) stands aside while the router
        # routes; one fitted with the router's margin decides.
        search.calibration = FAQCalibration(("top_dense",), (100.0,), -99.0, 0.5)  # only exact wordings
        aside = search.run("get my money back")
        assert not aside.calibrated and aside.confident and aside.threshold == search.min_score
        search.calibration = FAQCalibration(("router_margin",), (10.0,), 0.0, 0.5)
        routed = search.run("get my money back")
        assert routed.calibrated and routed.confident and routed.probability is not None
    calibration = FAQCalibration(("router_margin",), (10.0,), 0.0, 0.5)
    assert calibration.confident(got.signals) and not calibration.confident(
        replace(got.signals, router_margin=-0.5)
    )


def test_faq_signals_collects_right_and_wrong_tops():
    from retrieval.evaluate import faq_signals
    from tests.conftest import HashEmbedding

    in_scope, oos = faq_signals(
        _faq(),
        [("how do i get a refund", "refund"), ("how do i get a refund", "track")],
        ["hi there"],
        HashEmbedding(),
    )
    assert [right for _, right in in_scope] == [True, False]
    assert len(oos) == 1 and oos[0].word_overlap == 0.0
    with pytest.raises(ValueError, match="intents missing from the FAQ: nope"):
        faq_signals(_faq(), [("x", "nope")], [], HashEmbedding())


def test_calibration_file_round_trips_as_json(tmp_path):
    path = FAQCalibration(("top_dense", "margin"), (3.0, 5.0), -2.0, 0.7, {"note": "x"}).save(
        tmp_path / "c.json"
    )
    payload = json.loads(path.read_text())
    assert payload["format"] == "shopassist-faq-calibration/1" and payload["features"] == [
        "top_dense",
        "margin",
    ]
