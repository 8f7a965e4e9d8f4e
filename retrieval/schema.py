"""Typed records for what the shop sells and says: products and FAQ/policy entries.

Every fact the assistant states is rendered from these records, so they are validated once, at
ingest, and carry a content hash that makes re-ingesting an unchanged catalogue free.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

from pydantic import BaseModel, Field, field_validator


def _hash(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


MAX_PRICE = 10_000_000.0


def _real_price(value: float | None) -> float | None:
    """A price a shopper can pay: finite, at most MAX_PRICE, and 0 or at least one cent."""
    if value is None:
        return None
    if not math.isfinite(value) or value > MAX_PRICE:
        raise ValueError(f"a price must be a number up to {MAX_PRICE:,.0f}")
    if 0 < value < 0.01:
        raise ValueError("a price below 0.01 is not a price (a typo, or the wrong unit?)")
    return value


# A link a shopper may be sent to or an image a browser loads: absolute http(s) only, never a
# `javascript:` or `data:` URL from a supplier's file.
# An absolute http(s) URL, or a path on the shop's own site ("/p/boot-1"; not "//host", which is
# another host): clients resolve a path against the site (pages) or the API (the demo's images).
_WEB_URL = re.compile(r"(?:https?://[^\s<>\"'`]+|/(?!/)[^\s<>\"'`]*)", re.IGNORECASE)


class Variant(BaseModel):
    """One buyable version of a product (a size, a colour) as a commerce export lists it.

    A product with variants is stored once, with its variants here (retrieval.formats groups them),
    so a shopper sees one card per product; each variant keeps its own price and stock."""

    id: str = ""
    color: str = ""
    size: str = ""
    material: str = ""
    options: dict[str, str] = Field(default_factory=dict, description="Other options, e.g. Style")
    price: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    stock: int | None = Field(default=None, ge=0)

    _price_is_real = field_validator("price")(_real_price)

    @property
    def in_stock(self) -> bool:
        return self.stock is None or self.stock > 0


class Product(BaseModel):
    """One catalogue item. A shop catalogue needs id, title and price; search test sets may lack prices
    (price None means unknown: never shown, and excluded by any price filter)."""

    id: str = Field(min_length=1, description="Stable product id (SKU); the key for upserts")
    title: str = Field(min_length=1)
    description: str = ""
    brand: str = ""
    category: str = ""
    price: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    currency: str = "USD"
    color: str = ""
    size: str = ""
    material: str = ""
    rating: float | None = Field(default=None, ge=0, le=5)
    stock: int | None = Field(default=None, ge=0)
    tags: list[str] = Field(default_factory=list)
    url: str = Field(default="", description="The product's page on the shop")
    image_url: str = ""
    variants: list[Variant] = Field(
        default_factory=list, description="Its variants when it has several; price is then the lowest"
    )

    @field_validator("id", "title", "brand", "category", "color", "size", "material", "currency")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("url", "image_url")
    @classmethod
    def _web_url(cls, value: str) -> str:
        value = value.strip()
        if value and not _WEB_URL.fullmatch(value):
            raise ValueError("must be an http(s) URL or a path starting with '/', without spaces or quotes")
        return value

    _price_is_real = field_validator("price")(_real_price)

    @property
    def in_stock(self) -> bool:
        return self.stock is None or self.stock > 0

    def content_hash(self) -> str:
        """Hash of every field; a field added after 2026-12 counts only when it holds a value, so a
        product without one hashes as before and a stored catalogue is not embedded again."""
        # Plain fields straight from the instance (the same JSON as model_dump's, at two thirds of
        # the cost: hashing is a quarter of an unchanged 54k re-sync); variants need the dump.
        dump = self.model_dump() if self.variants else dict(self.__dict__)
        for name in _LATER_FIELDS:
            if not dump[name]:
                del dump[name]
        return _hash(dump)

    def search_text(self) -> str:
        """The text both the lexical and the dense index see (variants add nothing: their colours
        and sizes are in `color` and `size`, their prices are numbers)."""
        parts = [self.title, self.brand, self.category, self.color, self.material, " ".join(self.tags)]
        head = " | ".join(p for p in parts if p)
        return f"{head}. {self.description}".strip() if self.description else head

    def metadata(self) -> dict[str, str | int | float | bool]:
        """Flat, filterable fields for Chroma's `where` (no None values allowed there)."""
        return {
            "title": self.title,
            "brand": self.brand,
            "brand_lc": self.brand.lower(),
            "category": self.category,
            "category_lc": self.category.lower(),
            "price": float(self.price) if self.price is not None else -1.0,
            "currency": self.currency,
            "color": self.color,
            "color_lc": self.color.lower(),
            "size": self.size,
            "material": self.material,
            "rating": float(self.rating) if self.rating is not None else -1.0,
            "stock": int(self.stock) if self.stock is not None else -1,
            "in_stock": self.in_stock,
            "tags": ";".join(self.tags),
            "description": self.description,
            "url": self.url,
            "image_url": self.image_url,
            # JSON: Chroma metadata is flat; the variants are read back, never filtered on.
            "variants": json.dumps([v.model_dump() for v in self.variants]) if self.variants else "",
            "content_hash": self.content_hash(),
        }

    @classmethod
    def from_metadata(cls, product_id: str, meta: dict[str, Any]) -> Product:
        rating = float(meta.get("rating", -1.0))
        price = float(meta.get("price", -1.0))
        stock = int(meta.get("stock", -1))
        tags = str(meta.get("tags", ""))
        return cls(
            id=product_id,
            title=str(meta["title"]),
            description=str(meta.get("description", "")),
            brand=str(meta.get("brand", "")),
            category=str(meta.get("category", "")),
            price=price if price >= 0 else None,
            currency=str(meta.get("currency", "USD")),
            color=str(meta.get("color", "")),
            size=str(meta.get("size", "")),
            material=str(meta.get("material", "")),
            rating=rating if rating >= 0 else None,
            stock=stock if stock >= 0 else None,
            tags=[t for t in tags.split(";") if t],
            url=str(meta.get("url", "")),
            image_url=str(meta.get("image_url", "")),
            variants=json.loads(str(meta.get("variants") or "[]")),
        )


# Fields added after stores were first written: left out of the content hash while empty.
_LATER_FIELDS = ("url", "image_url", "variants")


class FAQEntry(BaseModel):
    """A policy or FAQ answer, with optional example phrasings that help intent routing."""

    id: str = Field(min_length=1)
    category: str = ""
    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    examples: list[str] = Field(default_factory=list)

    def content_hash(self) -> str:
        return _hash(self.model_dump())

    def metadata(self) -> dict[str, str]:
        return {
            "category": self.category,
            "question": self.question,
            "answer": self.answer,
            "examples": " | ".join(self.examples),
            "content_hash": self.content_hash(),
        }

    @classmethod
    def from_metadata(cls, entry_id: str, meta: dict[str, Any]) -> FAQEntry:
        examples = [e.strip() for e in str(meta.get("examples", "")).split(" | ") if e.strip()]
        return cls(
            id=entry_id,
            category=str(meta.get("category", "")),
            question=str(meta["question"]),
            answer=str(meta["answer"]),
            examples=examples,
        )
