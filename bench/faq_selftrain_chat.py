"""Whole chat turns routed to the right FAQ entry with no labelled question: cold, and after
self-training on the other half's questions (texts only), in one run.

    python bench/faq_selftrain_chat.py [--max-questions 600] [--json bench/results/faq-selftrain-chat.json]

Splits Bitext's questions_dev.csv in two halves by a fixed seed; self-trains
(`retrieval.faq_selftrain.self_train`) on half A's texts and writes the labels as an examples
file; then runs `shopassist eval chat --engine fake` on half B twice, without and with those
examples (the fake engine: routing and citations do not depend on the model's prose).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CS = ROOT.parent / "shared" / "data" / "cs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-questions", type=int, default=600)
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "faq-selftrain-chat.json")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from assistant.config import load_settings
    from assistant.shop import embedding_function
    from retrieval.datasets import load_intent_faq, load_labelled_questions
    from retrieval.faq_selftrain import self_train

    asked = load_labelled_questions(CS / "questions_dev.csv")
    random.Random(0).shuffle(asked)
    half_a, half_b = asked[: len(asked) // 2], asked[len(asked) // 2 :]
    result = self_train(
        load_intent_faq(CS / "faq.csv"), [q for q, _ in half_a], embedding_function(load_settings(), faq=True)
    )
    gold = dict(half_a)
    precision = sum(gold.get(q) == e for q, e in result.labels) / max(1, len(result.labels))
    tmp = Path(tempfile.mkdtemp(prefix="faq-selftrain-"))
    with (tmp / "pseudo.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["question", "intent"])
        writer.writerows(result.labels)
    with (tmp / "half_b.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["question", "intent"])
        writer.writerows(half_b)
    rows = {}
    for name, extra in (("cold", []), ("self-trained", ["--examples", str(tmp / "pseudo.csv")])):
        out_json = tmp / f"{name}.json"
        cmd = [
            sys.executable, "-m", "assistant.cli.main", "eval", "chat", "--engine", "fake",
            "--faq", str(CS / "faq.csv"), "--questions", str(tmp / "half_b.csv"),
            "--max-questions", str(args.max_questions), "--json", str(out_json), *extra,
        ]  # fmt: skip
        subprocess.run(
            cmd, check=True, cwd=ROOT, env={"SHOPASSIST_HOME": str(tmp / f"home-{name}"), **_env()}
        )
        rows[name] = json.loads(out_json.read_text())
    summary = {
        "labels": len(result.labels),
        "label_precision": round(precision, 4),
        "unlabelled": len(half_a),
        "asked": args.max_questions,
        **{name: _shown(run.get("questions", {})) for name, run in rows.items()},
    }
    print(json.dumps(summary, indent=1))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"summary": summary, "runs": rows}, indent=1))


def _shown(section: dict) -> dict:
    return {k: v for k, v in section.items() if k not in ("failures", "answered")}


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "SHOPASSIST_HOME"}


if __name__ == "__main__":
    main()
