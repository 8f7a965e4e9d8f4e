"""Recompose recorded copy through the service's current templates, to measure a composition change alone.

    .venv/bin/python bench/copy_recompose.py RECORDS.json VARIANT [--products FILE]

RECORDS.json comes from `shopassist eval copy --records-json`; VARIANT is one of its variants (e.g.
`copy-lora` or `copy-lora@c3`). Each product's recorded draft is replayed by a scripted generator
through `CopyService` (one candidate), so the drafts and the candidate choice stay as the model wrote
them and only what the service adds changes: facts from data, their phrasings, closings and the length
fitting. Prints distinct-2 of the recorded and of the recomposed final texts, and the merchants'. The
model's decoding does not depend on these templates, so the recomposed number is what a live run with
the same drafts would give; a live run on llama.cpp also varies its drafts run to run. A product whose
final text came from a retry or a repair (the record keeps the first draft) recomposes differently.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    from assistant.config import CopySettings
    from assistant.copystudio.protocol import CopyControls, CopyRequest
    from assistant.copystudio.service import CopyService
    from assistant.generation.fake import FakeGenerator
    from finetune.copy_eval import distinct_n
    from finetune.data import load_copy_products

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", type=Path)
    parser.add_argument("variant")
    parser.add_argument("--products", type=Path, default=Path("../shared/data/copy/flipkart_products.csv"))
    args = parser.parse_args(argv)
    records = [r for r in json.loads(args.records.read_text()) if r["variant"] == args.variant]
    if not records:
        print(f"copy_recompose: no records of variant {args.variant!r} in {args.records}", file=sys.stderr)
        return 2
    products = {p.id: p for p in load_copy_products([args.products])}  # the eval's ids seed the phrasing
    texts, same = [], 0
    for r in records:
        service = CopyService(
            FakeGenerator(default=r["draft"]), products, settings=CopySettings(candidates=1)
        )
        controls = CopyControls(tone=r["tone"], length=r["length"])
        text = service.run(CopyRequest(product_id=r["product_id"], controls=controls)).text
        texts.append(text)
        same += text == r["text"]
    print(
        f"distinct-2 recorded {distinct_n(r['text'] for r in records)}, recomposed {distinct_n(texts)} "
        f"({same} of {len(records)} texts unchanged), merchants {distinct_n(r['merchant_text'] for r in records)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
