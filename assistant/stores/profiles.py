"""Personalization: a shopper profile that re-ranks search results and picks recommendations.

The profile is built from data the shop already has (stated preferences, bought items and their
prices, products viewed in chat), never from model output. It only re-orders what retrieval found
relevant (a bounded bonus, so a profile never drags in an irrelevant product), and recommends for
"something for me" requests; a shopper with no history gets the shop's best-rated items (cold
start). `evaluate_profiles` measures the effect offline with simulated histories.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.stores.orders import OrderSource
from retrieval.schema import Product
from retrieval.search import ProductHit


@dataclass
class Profile:
    customer_id: str | None = None
    categories: set[str] = field(default_factory=set)
    brands: set[str] = field(default_factory=set)
    price_band: tuple[float, float] | None = None
    bought: set[str] = field(default_factory=set)
    viewed: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.categories or self.brands or self.price_band or self.bought or self.viewed)

    def affinity(self, product: Product) -> float:
        """0..1: how well a product fits what this shopper has shown they like."""
        score = 0.0
        if product.category.lower() in self.categories:
            score += 0.5
        if product.brand.lower() in self.brands:
            score += 0.3
        if self.price_band and product.price is not None:
            low, high = self.price_band
            score += 0.2 if low <= product.price <= high else 0.0
        return score


def build_profile(
    customer_id: str | None,
    orders: OrderSource,
    catalogue: dict[str, Product],
    viewed: Sequence[str] = (),
) -> Profile:
    """Stated preferences, plus the categories, brands and price band of what the shopper bought."""
    profile = Profile(customer_id=customer_id, viewed=list(viewed))
    customer = orders.customer(customer_id) if customer_id else None
    if customer is None:
        return profile
    profile.categories = {c.lower() for c in customer.preferred_categories}
    profile.brands = {b.lower() for b in customer.preferred_brands}
    prices = []
    for order in orders.orders_for(customer.id):
        for item in order.items:
            profile.bought.add(item.product_id)
            prices.append(item.unit_price)
            product = catalogue.get(item.product_id)
            if product is not None:
                profile.categories.add(product.category.lower())
                if product.brand:
                    profile.brands.add(product.brand.lower())
    for pid in viewed:
        product = catalogue.get(pid)
        if product is not None:
            profile.categories.add(product.category.lower())
    if prices:
        profile.price_band = (0.5 * min(prices), 1.5 * max(prices))
    return profile


def rerank(hits: Sequence[ProductHit], profile: Profile, weight: float = 0.3) -> list[ProductHit]:
    """Re-order relevant hits by profile fit: the bonus is at most `weight` times the spread of the
    retrieval scores, so a strong relevance lead is never overturned by taste alone."""
    if profile.is_empty or len(hits) < 2:
        return list(hits)
    scores = [h.score for h in hits]
    spread = (max(scores) - min(scores)) or 1.0
    keyed = []
    for hit in hits:
        fit = profile.affinity(hit.product)
        if fit > 0:
            hit.reasons = [*hit.reasons, "fits your past purchases and preferences"]
        keyed.append((hit.score + weight * spread * fit, hit))
    return [h for _, h in sorted(keyed, key=lambda kv: -kv[0])]


def recommend(catalogue: dict[str, Product], profile: Profile, k: int = 4) -> list[ProductHit]:
    """In-stock products for this shopper: best profile fit, then rating; not what they bought.
    With an empty profile (a guest, a new customer) this is the best-rated in-stock items."""
    pool = [p for p in catalogue.values() if p.in_stock and p.id not in profile.bought]

    def key(p: Product) -> tuple[float, float]:
        return (profile.affinity(p), p.rating or 0.0)

    ranked = sorted(pool, key=key, reverse=True)
    seen_categories: dict[str, int] = {}
    picked: list[Product] = []
    for product in ranked:  # at most two per category, so a cold start shows some variety
        if seen_categories.get(product.category, 0) < 2:
            picked.append(product)
            seen_categories[product.category] = seen_categories.get(product.category, 0) + 1
        if len(picked) == k:
            break
    reason = "picked for you" if not profile.is_empty else "popular with shoppers"
    return [ProductHit(p, key(p)[0] + (p.rating or 0.0) / 10, reasons=[reason]) for p in picked]


def evaluate_profiles(
    search: Any, queries: Sequence[str], *, shoppers: int = 200, k: int = 4, seed: int = 0
) -> dict[str, Any]:
    """Simulated shoppers: each bought three items of one category; for an ambiguous query, how
    many of the top k results are from that category (not yet bought), without and with the profile."""
    search.warm_up()
    catalogue: dict[str, Product] = search.products
    by_category: dict[str, list[Product]] = {}
    for product in catalogue.values():
        by_category.setdefault(product.category.lower(), []).append(product)
    rng = random.Random(seed)
    categories = sorted(c for c, items in by_category.items() if len(items) >= 6)
    before, after, changed = [], [], 0
    for _ in range(shoppers):
        category = rng.choice(categories)
        bought = rng.sample(by_category[category], 3)
        prices = [p.price for p in bought if p.price is not None]
        profile = Profile(
            categories={category},
            bought={p.id for p in bought},
            price_band=(0.5 * min(prices), 1.5 * max(prices)) if prices else None,
        )
        hits = search.run(rng.choice(list(queries)), top_k=3 * k).hits
        hits = [h for h in hits if h.product.id not in profile.bought]
        plain = hits[:k]
        personal = rerank(hits, profile)[:k]
        changed += [h.product.id for h in plain] != [h.product.id for h in personal]
        before.append(sum(h.product.category.lower() == category for h in plain) / k)
        after.append(sum(h.product.category.lower() == category for h in personal) / k)
    return {
        "shoppers": shoppers,
        "k": k,
        "preferred_share_without_profile": round(statistics.fmean(before), 4),
        "preferred_share_with_profile": round(statistics.fmean(after), 4),
        "lists_changed": round(changed / shoppers, 4),
    }
