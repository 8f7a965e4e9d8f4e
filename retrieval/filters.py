"""Structured product filters, validated against the facets the catalogue actually has.

Filters are data (a pydantic model), turned into a Chroma `where` clause for the dense side and a
predicate for the lexical side, so both retrievers see exactly the same candidate set. Asking for
a brand, category or colour the catalogue does not have is an error that lists what exists.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from retrieval.schema import Product


class FilterError(ValueError):
    """A filter names a value or field the catalogue does not have."""


def colour_tokens(value: str) -> set[str]:
    return {t for t in re.split(r"[^a-z]+", value.lower()) if t}


def _has_colour(value: str, colour: str) -> bool:
    """Whether a product's colour value has every word of a filter colour ('dark brown')."""
    wanted = colour_tokens(colour)
    return bool(wanted) and wanted <= colour_tokens(value)


@dataclass
class CatalogSchema:
    """The facet values present in a catalogue; what filters are checked against."""

    brands: dict[str, str] = field(default_factory=dict)  # lower-case -> as written
    categories: dict[str, str] = field(default_factory=dict)
    colors: dict[str, str] = field(default_factory=dict)  # full colour values, lower-case -> as written
    price_min: float = 0.0
    price_max: float = 0.0
    currency: str = "USD"  # the catalogue's most common: order totals and the price filter are in it

    @classmethod
    def from_products(cls, products: Iterable[Product]) -> CatalogSchema:
        schema = cls()
        prices: list[float] = []
        currencies: Counter[str] = Counter()
        for p in products:
            currencies[p.currency] += 1
            if p.brand:
                schema.brands.setdefault(p.brand.lower(), p.brand)
            if p.category:
                schema.categories.setdefault(p.category.lower(), p.category)
            if p.color:
                schema.colors.setdefault(p.color.lower(), p.color)
            if p.price is not None:
                prices.append(p.price)
        if prices:
            schema.price_min, schema.price_max = min(prices), max(prices)
        if currencies:
            schema.currency = currencies.most_common(1)[0][0]
        return schema

    @property
    def colour_words(self) -> set[str]:
        return set().union(*(colour_tokens(c) for c in self.colors)) if self.colors else set()

    def colour_values(self, word: str) -> list[str]:
        """Every catalogue colour value containing the word ('red' -> 'red', 'black/red'), or every
        word of a colour of several ('dark brown' -> 'dark brown', 'dark brown/tan')."""
        return sorted(v for v in self.colors if _has_colour(v, word))


class Filters(BaseModel):
    """Constraints on products. Empty lists and None mean 'no constraint'."""

    model_config = ConfigDict(extra="forbid")

    price_min: float | None = Field(default=None, ge=0, description="Lowest price, inclusive")
    price_max: float | None = Field(default=None, ge=0, description="Highest price, inclusive")
    brands: list[str] = Field(default_factory=list, description="Any of these brands (case-insensitive)")
    categories: list[str] = Field(default_factory=list, description="Any of these categories")
    colors: list[str] = Field(
        default_factory=list, description="Colour words; 'red' also matches 'black/red'"
    )
    min_rating: float | None = Field(default=None, ge=0, le=5, description="Lowest average rating")
    in_stock: bool = Field(default=False, description="Only products with stock")

    @model_validator(mode="after")
    def _range(self) -> Filters:
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise ValueError(f"price_min {self.price_min} is above price_max {self.price_max}")
        return self

    def is_empty(self) -> bool:
        return self == Filters()

    def merged(self, other: Filters | None) -> Filters:
        """Combine two filter sets; values set in `other` win (explicit UI filters over parsed ones)."""
        if other is None:
            return self
        data = self.model_dump()
        for key, value in other.model_dump(exclude_defaults=True).items():
            data[key] = value
        return Filters.model_validate(data)

    def validate_against(self, schema: CatalogSchema) -> None:
        for label, values, known in (
            ("brand", self.brands, schema.brands),
            ("category", self.categories, schema.categories),
        ):
            unknown = [v for v in values if v.lower() not in known]
            if unknown:
                raise FilterError(
                    f"unknown {label} {', '.join(map(repr, unknown))}; the catalogue has: "
                    f"{', '.join(sorted(known.values()))}"
                )
        unknown_colours = [c for c in self.colors if not schema.colour_values(c)]
        if unknown_colours:
            raise FilterError(
                f"unknown colour {', '.join(map(repr, unknown_colours))}; the catalogue has: "
                f"{', '.join(sorted(schema.colour_words))}"
            )

    def to_where(self, schema: CatalogSchema) -> dict[str, Any] | None:
        """The Chroma `where` clause over the metadata written by `Product.metadata()`."""
        self.validate_against(schema)
        clauses: list[dict[str, Any]] = []
        if self.price_min is not None:
            clauses.append({"price": {"$gte": float(self.price_min)}})
        if self.price_max is not None:
            clauses.append({"price": {"$lte": float(self.price_max)}})
            if self.price_min is None:  # unknown prices are stored as -1
                clauses.append({"price": {"$gte": 0.0}})
        if self.brands:
            clauses.append({"brand_lc": {"$in": [b.lower() for b in self.brands]}})
        if self.categories:
            clauses.append({"category_lc": {"$in": [c.lower() for c in self.categories]}})
        if self.colors:
            values = sorted({v for c in self.colors for v in schema.colour_values(c)})
            clauses.append({"color_lc": {"$in": values}})
        if self.min_rating is not None:
            clauses.append({"rating": {"$gte": float(self.min_rating)}})
        if self.in_stock:
            clauses.append({"in_stock": True})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def matches(self, product: Product) -> bool:
        """The same constraints as `to_where`, evaluated in Python (for the lexical side)."""
        if self.price_min is not None or self.price_max is not None:
            if product.price is None:
                return False
            if self.price_min is not None and product.price < self.price_min:
                return False
            if self.price_max is not None and product.price > self.price_max:
                return False
        if self.brands and product.brand.lower() not in {b.lower() for b in self.brands}:
            return False
        if self.categories and product.category.lower() not in {c.lower() for c in self.categories}:
            return False
        if self.colors and not any(_has_colour(product.color, c) for c in self.colors):
            return False
        if self.min_rating is not None and (product.rating or 0.0) < self.min_rating:
            return False
        return not (self.in_stock and not product.in_stock)

    def describe(self) -> list[str]:
        """Short human-readable phrases, used as match reasons and in the UI."""
        out = []
        if self.price_min is not None and self.price_max is not None:
            out.append(f"price {self.price_min:g}-{self.price_max:g}")
        elif self.price_max is not None:
            out.append(f"price <= {self.price_max:g}")
        elif self.price_min is not None:
            out.append(f"price >= {self.price_min:g}")
        if self.brands:
            out.append("brand " + "/".join(self.brands))
        if self.categories:
            out.append("category " + "/".join(self.categories))
        if self.colors:
            out.append("colour " + "/".join(self.colors))
        if self.min_rating is not None:
            out.append(f"rating >= {self.min_rating:g}")
        if self.in_stock:
            out.append("in stock")
        return out


class FacetArrays:
    """Column arrays of the filterable fields, so a filter over 50k products is a few numpy ops."""

    def __init__(self, products: Sequence[Product]) -> None:
        import numpy as np

        self.np = np
        self.size = len(products)
        self.price = np.array(
            [p.price if p.price is not None else np.nan for p in products], dtype=np.float64
        )
        self.rating = np.array(
            [p.rating if p.rating is not None else 0.0 for p in products], dtype=np.float64
        )
        self.in_stock = np.array([p.in_stock for p in products], dtype=bool)
        self.brand = np.array([p.brand.lower() for p in products], dtype=object)
        self.category = np.array([p.category.lower() for p in products], dtype=object)
        self._colour_words: dict[str, Any] = {}
        for i, p in enumerate(products):
            for word in colour_tokens(p.color):
                self._colour_words.setdefault(word, []).append(i)

    def colour(self, word: str) -> Any:
        """Products whose colour has every word of `word` ('red', 'dark brown')."""
        words = colour_tokens(word)
        mask = self.np.ones(self.size, dtype=bool) if words else self.np.zeros(self.size, dtype=bool)
        for token in words:
            one = self.np.zeros(self.size, dtype=bool)
            one[self._colour_words.get(token, [])] = True
            mask &= one
        return mask

    def mask(self, filters: Filters) -> Any:
        """Boolean mask of the products that pass `filters` (same semantics as `Filters.matches`)."""
        np = self.np
        keep = np.ones(self.size, dtype=bool)
        with np.errstate(invalid="ignore"):
            if filters.price_min is not None:
                keep &= self.price >= filters.price_min  # NaN (unknown price) compares False
            if filters.price_max is not None:
                keep &= self.price <= filters.price_max
        if filters.brands:
            keep &= np.isin(self.brand, [b.lower() for b in filters.brands])
        if filters.categories:
            keep &= np.isin(self.category, [c.lower() for c in filters.categories])
        if filters.colors:
            any_colour = np.zeros(self.size, dtype=bool)
            for word in filters.colors:
                any_colour |= self.colour(word)
            keep &= any_colour
        if filters.min_rating is not None:
            keep &= self.rating >= filters.min_rating
        if filters.in_stock:
            keep &= self.in_stock
        return keep
