"""A second opinion on product copy: how much of what a text names is absent from its attributes.

    .venv/bin/python bench/copy_faithfulness.py RECORDS.json [--fields text,draft,merchant_text]
        [--show 10] [--json bench/results/copy-faithfulness.json]

RECORDS.json is a JSON list of records, each with `attributes` (key -> value) and one or more texts
(`text` by default; `shopassist eval copy` records also carry `draft`, the model's first draft, and
`merchant_text`, the shop's own description). For every text this counts the numbers, colours and
materials it names and the share of them that appear nowhere in the attributes (keys or values), per
text and overall, per kind. It deliberately shares no code with the project's claim checker
(`assistant.grounding`): its own small regexes and word lists, no units, no synonyms beyond
spelling variants. That makes it cruder than the checker, and independent of it: where a record
carries the checker's verdict on a text (`<field>_unsupported`, a list of claims), the texts the two
judge differently are listed: those the checker passed but this measure flags (a claim the checker
missed, or a unit or synonym it knows and this does not), and those the checker flagged but this
measure passes (a claim of a kind not counted here, brands, warranties, certifications, or a value
this measure finds somewhere in the attributes).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that are colours or materials whatever they describe; ambiguous ones (rust, mint, wine) are out.
COLOURS = _words(
    """black white red blue green yellow orange purple pink brown grey gray silver gold beige navy
    maroon violet cream ivory tan khaki olive teal turquoise magenta charcoal burgundy peach lavender
    mustard indigo cyan aqua coral lilac fuchsia multicolour multicolor"""
)
MATERIALS = _words(
    """cotton polyester leather wool silk nylon linen denim rayon viscose spandex lycra elastane acrylic
    velvet satin chiffon georgette crepe suede canvas rubber plastic steel aluminium aluminum iron
    brass copper bronze wood bamboo glass ceramic porcelain silicone foam mesh metal alloy titanium
    marble granite jute fleece terracotta acrylonitrile polycarbonate polypropylene pvc"""
)
# Spelling variants and word forms that name the same value.
_SAME = {
    "gray": "grey",
    "multicolor": "multicolour",
    "aluminum": "aluminium",
    "wooden": "wood",
    "woollen": "wool",
    "woolen": "wool",
    "metallic": "metal",
    "leatherette": "leather",
    "silken": "silk",
}
_WORD = re.compile(r"[a-z]+")
# A number: digits with thousands separators or a decimal part, not glued to a word before it (SKU12).
_NUMBER = re.compile(r"(?<![\w.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.,])\d+(?:\.\d+)?")
KINDS = ("number", "colour", "material")


def _canon(word: str) -> str:
    return _SAME.get(word, word)


_COLOUR_SET = frozenset(map(_canon, COLOURS))
_MATERIAL_SET = frozenset(map(_canon, MATERIALS))


def _number(raw: str) -> str:
    """A number as a value: thousands separators and trailing zeros of decimals do not count."""
    value = raw.replace(",", "")
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return value.lstrip("0") or "0"


def mentions(text: str) -> list[tuple[str, str]]:
    """(kind, value) for each number, colour and material the text names, in order."""
    lower = text.lower()
    found: list[tuple[int, str, str]] = [
        (m.start(), "number", _number(m.group())) for m in _NUMBER.finditer(lower)
    ]
    for m in _WORD.finditer(lower):
        word = _canon(m.group())
        if word in _COLOUR_SET:
            found.append((m.start(), "colour", word))
        elif word in _MATERIAL_SET:
            found.append((m.start(), "material", word))
    return [(kind, value) for _, kind, value in sorted(found)]


def attribute_values(attributes: Mapping[str, Any]) -> dict[str, set[str]]:
    """Every number, colour and material the attributes name, keys and values together."""
    values: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for key, value in attributes.items():
        for kind, v in mentions(f"{key} {value}"):
            values[kind].add(v)
    return values


def judge(attributes: Mapping[str, Any], text: str) -> dict[str, Any]:
    """One text: what it names, what of that the attributes lack, and the share lacking."""
    known = attribute_values(attributes)
    named = mentions(text)
    absent = [(kind, v) for kind, v in named if v not in known[kind]]
    return {
        "mentions": len(named),
        "absent": [f"{v} ({kind})" for kind, v in absent],
        "absent_share": round(len(absent) / len(named), 4) if named else None,
        "by_kind": {
            kind: [sum(1 for k, _ in named if k == kind), sum(1 for k, _ in absent if k == kind)]
            for kind in KINDS
        },
        "flagged": bool(absent),
    }


def in_scope(claims: Iterable[str]) -> bool:
    """Whether any of the checker's claims is of a kind this measure counts."""
    return any(mentions(c) for c in claims)


def summarize(records: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> dict[str, Any]:
    """Per (variant, field): texts, the share flagged, the overall and per-kind absent shares, and the
    disagreements with the checker's verdicts where the records carry them."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        attributes = record.get("attributes") or {}
        for field in fields:
            text = record.get(field)
            if not isinstance(text, str) or not text.strip():
                continue
            verdict = judge(attributes, text)
            checker = record.get(f"{field}_unsupported")
            groups[(str(record.get("variant", "")), field)].append(
                {
                    "product_id": record.get("product_id", ""),
                    "text": text,
                    **verdict,
                    "checker_unsupported": checker,
                }
            )
    out: dict[str, Any] = {}
    for (variant, field), rows in groups.items():
        totals: Counter[str] = Counter()
        for row in rows:
            for kind, (named, absent) in row["by_kind"].items():
                totals[f"{kind}_named"] += named
                totals[f"{kind}_absent"] += absent
        named = sum(totals[f"{k}_named"] for k in KINDS)
        absent = sum(totals[f"{k}_absent"] for k in KINDS)
        judged = [r for r in rows if r["checker_unsupported"] is not None]
        script_only = [r for r in judged if r["flagged"] and not r["checker_unsupported"]]
        checker_only = [r for r in judged if r["checker_unsupported"] and not r["flagged"]]
        out[f"{variant}:{field}" if variant else field] = {
            "texts": len(rows),
            "with_mentions": sum(1 for r in rows if r["mentions"]),
            "flagged_share": round(sum(r["flagged"] for r in rows) / len(rows), 4) if rows else 0.0,
            "absent_share": round(absent / named, 4) if named else 0.0,
            **{
                f"{k}_absent_share": round(totals[f"{k}_absent"] / totals[f"{k}_named"], 4)
                if totals[f"{k}_named"]
                else 0.0
                for k in KINDS
            },
            "checker_judged": len(judged),
            "checker_flagged": sum(1 for r in judged if r["checker_unsupported"]),
            "agree": len(judged) - len(script_only) - len(checker_only),
            "checker_passed_script_flags": script_only,
            "checker_flags_script_passes": checker_only,
            "per_text": rows,
        }
    return out


def _short(text: str, n: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def report(summary: Mapping[str, Any], show: int) -> None:
    cols = [
        "set",
        "texts",
        "flagged",
        "absent",
        "numbers",
        "colours",
        "materials",
        "chk_flag",
        "agree",
        "disagree",
    ]
    rows = [
        [
            name,
            str(s["texts"]),
            f"{s['flagged_share']:.3f}",
            f"{s['absent_share']:.3f}",
            f"{s['number_absent_share']:.3f}",
            f"{s['colour_absent_share']:.3f}",
            f"{s['material_absent_share']:.3f}",
            f"{s['checker_flagged']}/{s['checker_judged']}" if s["checker_judged"] else "-",
            str(s["agree"]) if s["checker_judged"] else "-",
            f"{len(s['checker_passed_script_flags'])}+{len(s['checker_flags_script_passes'])}"
            if s["checker_judged"]
            else "-",
        ]
        for name, s in summary.items()
    ]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)] if rows else []
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))
    print(
        "\nflagged: share of texts naming something absent from the attributes; absent: share of all named "
        "numbers/colours/materials absent (then per kind); disagree: checker passed & this flags + checker "
        "flagged & this passes"
    )
    for name, s in summary.items():
        if s["checker_passed_script_flags"]:
            print(
                f"\n{name}: the checker passed, this measure flags ({len(s['checker_passed_script_flags'])}):"
            )
            for r in s["checker_passed_script_flags"][:show]:
                print(f"  {r['product_id']}: absent {', '.join(r['absent'])} | {_short(r['text'])}")
        if s["checker_flags_script_passes"]:
            print(
                f"\n{name}: the checker flagged, this measure passes ({len(s['checker_flags_script_passes'])}):"
            )
            for r in s["checker_flags_script_passes"][:show]:
                scope = (
                    "a kind counted here" if in_scope(r["checker_unsupported"]) else "a kind not counted here"
                )
                claims = ", ".join(map(str, r["checker_unsupported"]))
                print(f"  {r['product_id']}: checker: {claims} ({scope}) | {_short(r['text'])}")


def load_records(path: Path) -> list[dict[str, Any]]:
    """A list of records, or an object holding one under `records`."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get("records", [])
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise SystemExit(f"{path}: expected a JSON list of records with 'attributes' and a text field")
    return data


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("records", type=Path, help="JSON list of records (e.g. from shopassist eval copy)")
    parser.add_argument(
        "--fields", default="text,draft,merchant_text", help="Text fields to judge, comma-separated"
    )
    parser.add_argument("--show", type=int, default=10, help="Disagreements listed per set")
    parser.add_argument("--json", type=Path, help="Write the full result (per text) to this file")
    args = parser.parse_args(argv)
    records = load_records(args.records)
    fields = [f.strip() for f in args.fields.split(",") if f.strip()]
    summary = summarize(records, fields)
    if not summary:
        print(f"no texts in fields {', '.join(fields)} of {args.records}", file=sys.stderr)
        return 1
    report(summary, args.show)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
