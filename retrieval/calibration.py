"""A calibrated "no confident match" for FAQ routing.

One fixed similarity threshold cannot tell "close to an entry" from "answered by it": on the cold
Bitext FAQ a right match often scores under 0.6 while an off-topic or wrong one scores over it.
A calibration is a small logistic regression over signals the FAQ search has anyway (the top
entry's dense similarity, its margin over the next entry, whether BM25 picks the same entry, how
many of the question's words the entry contains), fitted on labelled in-scope questions (positive
when the top entry is the gold intent) against out-of-scope ones, plus the probability at which
the search answers. Fitting and serving share `FEATURES`, and the file records their names, so a
file computed from other signals is refused instead of misread.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.files import write_atomic

_FORMAT = "shopassist-faq-calibration/1"
# Fitted on public intent sets for plain MiniLM (finetune.faq_calibration); `retrieval.faq_calibration`
# = "shipped" (the default) names it.
SHIPPED_FAQ_CALIBRATION = Path(__file__).parent / "shipped" / "faq-calibration" / "calibration.json"
_REFIT = "fit a new one with `shopassist calibrate-faq` or empty retrieval.faq_calibration"


class CalibrationError(ValueError):
    """A calibration file is missing, unreadable or made for other signals; says what to do."""


@dataclass(frozen=True)
class FAQSignals:
    """What the FAQ search knows about its top entry for one question (all cheap to compute)."""

    top_dense: float  # cosine of the question and the top entry's best phrasing
    second_dense: float  # the same for the best other entry (0 when there is none)
    lexical_agrees: bool  # BM25's top entry is the same entry
    word_overlap: float  # share of the question's (stemmed) words found in the top entry's texts
    # The learned router's one-vs-rest margin for the top entry (> 0: it accepts the intent); 0.0
    # without a router. Once the router is trained (labels, self-training) it is the sharpest signal.
    router_margin: float = 0.0


# Feature name -> how it is read from the signals; the calibration file names the ones it uses.
FEATURES: dict[str, Callable[[FAQSignals], float]] = {
    "top_dense": lambda s: s.top_dense,
    "margin": lambda s: s.top_dense - s.second_dense,
    "lexical_agrees": lambda s: float(s.lexical_agrees),
    "word_overlap": lambda s: s.word_overlap,
    "router_margin": lambda s: s.router_margin,
}
DEFAULT_FEATURES = ("top_dense", "margin", "lexical_agrees", "word_overlap")
# With a learned router (an FAQ with example phrasings), its margin joins the default signals.
ROUTER_FEATURES = (*DEFAULT_FEATURES, "router_margin")


@dataclass
class FAQCalibration:
    """P(the top entry is right and the question is in scope) = logistic(coef . features + intercept);
    the search is confident when that probability is at least `threshold`."""

    features: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown:
            raise CalibrationError(
                f"unknown calibration feature(s) {', '.join(unknown)}; known: {', '.join(FEATURES)}"
            )
        if len(self.coef) != len(self.features):
            raise CalibrationError(f"{len(self.coef)} coefficients for {len(self.features)} features")
        numbers = [*self.coef, self.intercept, self.threshold]
        if not all(isinstance(x, int | float) and math.isfinite(x) for x in numbers):
            raise CalibrationError("coefficients, intercept and threshold must be finite numbers")
        if not 0.0 <= self.threshold <= 1.0:
            raise CalibrationError(f"threshold {self.threshold} is a probability and must be in 0..1")

    def probability(self, signals: FAQSignals) -> float:
        z = self.intercept + sum(
            c * FEATURES[f](signals) for f, c in zip(self.features, self.coef, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def confident(self, signals: FAQSignals) -> bool:
        return self.probability(signals) >= self.threshold

    def with_threshold(self, threshold: float) -> FAQCalibration:
        return FAQCalibration(self.features, self.coef, self.intercept, threshold, dict(self.meta))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        payload = {
            "format": _FORMAT,
            "features": list(self.features),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "threshold": self.threshold,
            "meta": self.meta,
        }
        return write_atomic(path, json.dumps(payload, indent=2))

    @classmethod
    def load(cls, path: str | Path) -> FAQCalibration:
        path = Path(path)
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CalibrationError(f"cannot read FAQ calibration {path}: {exc}; {_REFIT}") from exc
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
            raise CalibrationError(f"{path} is not an FAQ calibration ({_FORMAT}, found {found!r}); {_REFIT}")
        try:
            return cls(
                tuple(payload["features"]),
                tuple(float(c) for c in payload["coef"]),
                float(payload["intercept"]),
                float(payload["threshold"]),
                dict(payload.get("meta") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"FAQ calibration {path} is malformed ({exc}); {_REFIT}") from exc


def feature_rows(signals: Sequence[FAQSignals], features: Sequence[str]) -> list[list[float]]:
    return [[FEATURES[f](s) for f in features] for s in signals]


def fit_probabilities(
    in_scope: Sequence[tuple[FAQSignals, bool]],
    out_of_scope: Sequence[FAQSignals],
    *,
    features: Sequence[str] = DEFAULT_FEATURES,
) -> FAQCalibration:
    """The logistic regression alone (threshold 0.5): positives are in-scope questions whose top
    entry is right; wrong tops and out-of-scope questions are the negatives. Classes are weighted
    to balance, so a small out-of-scope set counts as much as many in-scope questions."""
    from sklearn.linear_model import LogisticRegression

    features = tuple(features)
    labels = [int(right) for _, right in in_scope] + [0] * len(out_of_scope)
    if len(set(labels)) < 2:
        raise CalibrationError(
            "calibration needs both in-scope questions routed right and questions it must refuse "
            "(out-of-scope or routed wrong); check the labelled questions and the out-of-scope file"
        )
    rows = feature_rows([s for s, _ in in_scope] + list(out_of_scope), features)
    model = LogisticRegression(class_weight="balanced", C=1.0, max_iter=1000)
    model.fit(rows, labels)
    return FAQCalibration(features, tuple(float(c) for c in model.coef_[0]), float(model.intercept_[0]), 0.5)


def curve(
    calibration: FAQCalibration,
    in_scope: Sequence[tuple[FAQSignals, bool]],
    out_of_scope: Sequence[FAQSignals],
    thresholds: Sequence[float],
) -> list[dict[str, float]]:
    """Per threshold: coverage (share of in-scope questions answered and right), precision (share
    of answered in-scope questions that are right) and the share of out-of-scope questions refused."""
    p_in = [(calibration.probability(s), right) for s, right in in_scope]
    p_out = [calibration.probability(s) for s in out_of_scope]
    return [operating_point(t, p_in, p_out) for t in thresholds]


def operating_point(
    threshold: float, p_in: Sequence[tuple[float, bool]], p_out: Sequence[float]
) -> dict[str, float]:
    answered = [right for p, right in p_in if p >= threshold]
    return {
        "threshold": round(threshold, 4),
        "answered": round(len(answered) / max(len(p_in), 1), 4),
        "coverage": round(sum(answered) / max(len(p_in), 1), 4),
        "precision": round(sum(answered) / len(answered), 4) if answered else 1.0,
        "oos_refused": round(sum(p < threshold for p in p_out) / max(len(p_out), 1), 4),
    }


def choose_threshold(
    calibration: FAQCalibration,
    in_scope: Sequence[tuple[FAQSignals, bool]],
    out_of_scope: Sequence[FAQSignals],
    *,
    precision: float = 0.95,
    refusal: float = 0.95,
) -> tuple[float, bool]:
    """The threshold that answers the most in-scope questions right while meeting both targets
    (precision of answered questions, share of out-of-scope refused); when no threshold meets
    both, the one with the best worse-of-the-two. Returns it and whether the targets were met."""
    p_in = [(calibration.probability(s), right) for s, right in in_scope]
    p_out = [calibration.probability(s) for s in out_of_scope]
    candidates = sorted({p for p, _ in p_in} | set(p_out) | {0.5})
    points = [operating_point(t, p_in, p_out) for t in candidates]
    meeting = [pt for pt in points if pt["precision"] >= precision and pt["oos_refused"] >= refusal]
    if meeting:
        best = max(meeting, key=lambda pt: (pt["coverage"], -pt["threshold"]))
        return best["threshold"], True
    best = max(points, key=lambda pt: (min(pt["precision"], pt["oos_refused"]), pt["coverage"]))
    return best["threshold"], False


def fit_calibration(
    in_scope: Sequence[tuple[FAQSignals, bool]],
    out_of_scope: Sequence[FAQSignals],
    *,
    features: Sequence[str] = DEFAULT_FEATURES,
    precision: float = 0.95,
    refusal: float = 0.95,
) -> FAQCalibration:
    """Fit the probabilities, then the threshold, on the same questions; `meta` records the fit."""
    fitted = fit_probabilities(in_scope, out_of_scope, features=features)
    threshold, met = choose_threshold(fitted, in_scope, out_of_scope, precision=precision, refusal=refusal)
    calibration = fitted.with_threshold(threshold)
    point = curve(calibration, in_scope, out_of_scope, [threshold])[0]
    calibration.meta = {
        "in_scope": len(in_scope),
        "out_of_scope": len(out_of_scope),
        "targets": {"precision": precision, "oos_refused": refusal, "met_on_fit": met},
        "fit": point,
    }
    return calibration
