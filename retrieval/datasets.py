"""Loaders for public relevance and customer-service data sets, in the plain formats of shared/data.

None of these sets is shipped with the project: each loader reads a local path and names the
public source, so anyone can fetch the data and run the same evaluation. A generic loader reads
any set in the same format, so an independent held-out split goes through identical code.
"""

from __future__ import annotations

import ast
import csv
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.catalog import CatalogError, LoadResult, RowError, load_products
from retrieval.schema import FAQEntry, Product

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    what: str
    source: str
    licence: str


DATASETS = {
    d.name: d
    for d in (
        DatasetInfo(
            "crowdflower",
            "9.9k products, graded queries (1-4)",
            "Kaggle: Crowdflower Search Results Relevance (2015), train.csv",
            "competition terms",
        ),
        DatasetInfo(
            "homedepot",
            "54.7k product titles, graded queries (1-3)",
            "Kaggle: Home Depot Product Search Relevance (2016), train.csv",
            "competition terms",
        ),
        DatasetInfo(
            "wands",
            "42k Wayfair products, 480 queries, Exact/Partial/Irrelevant labels",
            "https://github.com/wayfair/WANDS (dataset/product.csv, query.csv, label.csv)",
            "MIT",
        ),
        DatasetInfo(
            "bitext",
            "27 customer-service intents, canonical answers, questions, replies",
            "Bitext customer-support LLM chatbot training dataset (Hugging Face / GitHub)",
            "CDLA-Sharing-1.0",
        ),
        DatasetInfo(
            "flipkart",
            "Flipkart products with specifications and descriptions",
            "PromptCloud Flipkart products sample (Kaggle)",
            "CC BY-SA 4.0",
        ),
        DatasetInfo(
            "abcd",
            "ABCD agent guidelines: flows, subflows, required actions",
            "https://github.com/asappresearch/abcd",
            "MIT",
        ),
        DatasetInfo(
            "clinc150",
            "23.5k assistant utterances of 150 intents (banking, travel, home, ...); trains the FAQ embedder",
            "https://github.com/clinc/oos-eval (data/data_full.json)",
            "CC BY 3.0",
        ),
        DatasetInfo(
            "banking77",
            "10k online-banking customer questions of 77 intents; trains the FAQ embedder",
            "https://github.com/PolyAI-LDN/task-specific-datasets (banking_data/train.csv)",
            "CC BY 4.0",
        ),
    )
}

WANDS_RAW = "https://raw.githubusercontent.com/wayfair/WANDS/main/dataset/{name}"
_LABEL_GAINS = {"exact": 2.0, "partial": 1.0, "irrelevant": 0.0}


@dataclass
class SearchSet:
    """Products to index, queries, and graded judgements (gain >= 0; 0 means judged irrelevant)."""

    products: list[Product]
    queries: dict[str, str]
    qrels: dict[str, dict[str, float]]
    errors: list[RowError] = field(default_factory=list)

    def judged_queries(self) -> list[str]:
        """Queries with at least one relevant product (others cannot score and are left out)."""
        return [q for q in self.queries if any(g > 0 for g in self.qrels.get(q, {}).values())]


def _read_table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Columns and rows of a comma- or tab-separated file (the delimiter is read off the header)."""
    with path.open(newline="", encoding="utf-8") as handle:
        first = handle.readline()
        handle.seek(0)
        delimiter = "\t" if first.count("\t") > first.count(",") else ","
        reader = csv.DictReader(handle, delimiter=delimiter)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def _column(columns: list[str], path: Path, *names: str) -> str:
    for name in names:
        if name in columns:
            return name
    raise CatalogError(
        f"{path.name} needs one of the columns {', '.join(names)}; found: {', '.join(columns)}"
    )


def load_queries(path: str | Path) -> dict[str, str]:
    path = Path(path)
    cols, reader = _read_table(path)
    qid, text = _column(cols, path, "query_id", "id"), _column(cols, path, "query", "text", "question")
    return {row[qid]: row[text] for row in reader if row.get(qid) and row.get(text)}


def load_qrels(path: str | Path, gain_offset: float = 1.0) -> dict[str, dict[str, float]]:
    """Judgements; numeric grades become gain = grade - gain_offset (so the lowest grade is 0),
    WANDS labels map Exact=2, Partial=1, Irrelevant=0."""
    path = Path(path)
    cols, reader = _read_table(path)
    qid, pid = _column(cols, path, "query_id"), _column(cols, path, "product_id")
    grade = _column(cols, path, "grade", "relevance", "label", "score")
    qrels: dict[str, dict[str, float]] = defaultdict(dict)
    for row in reader:
        raw = (row.get(grade) or "").strip()
        if raw.lower() in _LABEL_GAINS:
            gain = _LABEL_GAINS[raw.lower()]
        else:
            try:
                gain = max(0.0, float(raw) - gain_offset)
            except ValueError:
                continue
        qrels[row[qid]][row[pid]] = gain
    return dict(qrels)


def _search_mapping(path: Path) -> dict[str, str]:
    """Field mapping for the common product-file layouts (ours, shared/, WANDS)."""
    with path.open(newline="", encoding="utf-8") as handle:
        first = handle.readline().rstrip("\r\n")
    cols = set(next(csv.reader([first], delimiter="\t" if "\t" in first else ",")))
    mapping = {}
    if "id" not in cols and "product_id" in cols:
        mapping["id"] = "product_id"
    if "title" not in cols:
        for alt in ("product_name", "name"):
            if alt in cols:
                mapping["title"] = alt
                break
    if "description" not in cols and "product_description" in cols:
        mapping["description"] = "product_description"
    if "category" not in cols and "product_class" in cols:
        mapping["category"] = "product_class"
    return mapping


def load_search_set(
    products: str | Path, queries: str | Path, qrels: str | Path, gain_offset: float = 1.0
) -> SearchSet:
    """Any set in the shared layout: products (product_id, title[, description]), queries, qrels."""
    loaded = load_search_products(products)
    return SearchSet(loaded.items, load_queries(queries), load_qrels(qrels, gain_offset), loaded.errors)


def load_search_products(products: str | Path) -> LoadResult[Product]:
    """The products file of a set in the shared layout (CSV, or tab-separated as WANDS ships it)."""
    products = Path(products)
    with products.open(encoding="utf-8") as handle:
        tab_separated = "\t" in handle.readline()
    if products.suffix == ".csv" and tab_separated:
        return _load_tsv_products(products)
    return load_products(products, _search_mapping(products), required=("id", "title"), strip_controls=True)


def _load_tsv_products(path: Path) -> LoadResult[Product]:
    """Tab-separated product files (WANDS): converted row by row with the same validation."""
    result: LoadResult[Product] = LoadResult(path=path)
    mapping = _search_mapping(path)
    _, rows = _read_table(path)
    for row_no, row in enumerate(rows, start=2):
        record = {field: row.get(source, "") for field, source in mapping.items()}
        record.update({k: v for k, v in row.items() if k in Product.model_fields and k not in record})
        record = {k: v for k, v in record.items() if v not in (None, "")}
        try:
            result.items.append(Product.model_validate(record))
        except ValueError as exc:
            result.errors.append(RowError(row_no, "(row)", str(exc).splitlines()[0]))
    return result


def crowdflower(root: str | Path) -> SearchSet:
    root = Path(root)
    return load_search_set(
        root / "products.csv", root / "queries_dev.csv", root / "qrels_dev.csv", gain_offset=1.0
    )


def homedepot(root: str | Path) -> SearchSet:
    root = Path(root)
    return load_search_set(
        root / "products.csv", root / "queries_dev.csv", root / "qrels_dev.csv", gain_offset=1.0
    )


def wands(root: str | Path, download: bool = False) -> SearchSet:
    """WANDS from a local copy (product.csv, query.csv, label.csv); fetched from GitHub if allowed."""
    root = Path(root)
    needed = ["product.csv", "query.csv", "label.csv"]
    missing = [n for n in needed if not (root / n).exists()]
    if missing and download:
        import urllib.request

        root.mkdir(parents=True, exist_ok=True)
        for name in missing:
            try:
                urllib.request.urlretrieve(WANDS_RAW.format(name=name), root / name)  # noqa: S310
            except OSError as exc:
                raise CatalogError(
                    f"could not download WANDS {name} ({exc}); copy it from {DATASETS['wands'].source} into {root}"
                ) from exc
        missing = []
    if missing:
        raise CatalogError(
            f"WANDS files missing in {root}: {', '.join(missing)} (source: {DATASETS['wands'].source})"
        )
    return load_search_set(root / "product.csv", root / "query.csv", root / "label.csv")


def humanize_intent(intent: str) -> str:
    """An intent id in words ("track_refund" -> "track refund"): how an intent FAQ's entry reads,
    and so how the FAQ embedder (finetune.faq_embedder) is taught intent names."""
    return re.sub(r"[_\-]+", " ", intent).strip()


def load_intent_faq(path: str | Path) -> list[FAQEntry]:
    """An intent FAQ (intent, category, answer), as in Bitext's faq.csv: one entry per intent,
    its question being the intent's name in words. Our own FAQ layout is read as it is."""
    path = Path(path)
    cols, reader = _read_table(path)
    if "question" in cols and "id" in cols:
        from retrieval.catalog import load_faq

        return load_faq(path).items
    intent, answer = _column(cols, path, "intent", "id"), _column(cols, path, "answer", "response")
    return [
        FAQEntry(
            id=row[intent],
            category=row.get("category", ""),
            question=humanize_intent(row[intent]),
            answer=row[answer],
        )
        for row in reader
        if row.get(intent) and row.get(answer)
    ]


def load_labelled_questions(path: str | Path) -> list[tuple[str, str]]:
    """(question, intent) pairs; accepts the columns of Bitext's questions and replies files."""
    path = Path(path)
    cols, reader = _read_table(path)
    text, intent = (
        _column(cols, path, "question", "instruction", "text"),
        _column(cols, path, "intent", "label"),
    )
    return [(row[text], row[intent]) for row in reader if row.get(text) and row.get(intent)]


def flipkart(path: str | Path) -> LoadResult[Product]:
    """Flipkart sample: specifications become attributes; prices are rupees (0.0 means unknown)."""
    path = Path(path)
    result: LoadResult[Product] = LoadResult(path=path)
    with path.open(newline="", encoding="utf-8") as handle:
        for row_no, row in enumerate(csv.DictReader(handle), start=2):
            price = next(
                (
                    float(row[k])
                    for k in ("discounted_price", "retail_price")
                    if (row.get(k) or "").replace(".", "", 1).isdigit() and float(row[k]) > 0
                ),
                None,
            )
            specs = _flipkart_specs(row.get("product_specifications", ""))
            tree_raw = _literal(row.get("product_category_tree", ""))
            tree = [str(t) for t in tree_raw] if isinstance(tree_raw, list) else []
            try:
                rating = float(row.get("product_rating") or "")
            except ValueError:
                rating = None
            try:
                result.items.append(
                    Product(
                        id=row["pid"],
                        title=row["product_name"],
                        description=row.get("description", ""),
                        brand=row.get("brand", ""),
                        category=tree[0] if tree else "",
                        price=price,
                        currency="INR",
                        color=specs.get("color", ""),
                        material=specs.get("material", specs.get("outer material", "")),
                        rating=rating if rating is not None and 0 < rating <= 5 else None,  # 0.0 = unrated
                        tags=[f"{k}: {v}" for k, v in specs.items()][:30],
                    )
                )
            except ValueError as exc:
                result.errors.append(RowError(row_no, "(row)", str(exc).splitlines()[0]))
    return result


def _literal(raw: str) -> object:
    """The set stores lists as Python literals ("['a', 'b']"); read them without eval."""
    try:
        return ast.literal_eval((raw or "").strip() or "None")
    except (ValueError, SyntaxError):
        return None


def _flipkart_specs(raw: str) -> dict[str, str]:
    items = _literal(raw)
    out = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and "key" in item and "value" in item:
            out[str(item["key"]).strip().lower()] = str(item["value"]).strip()
    return out
