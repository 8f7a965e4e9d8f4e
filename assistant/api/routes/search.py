"""`POST /v1/search`: product search with the assistant's own retriever."""

from __future__ import annotations

from fastapi import APIRouter

from assistant.api.protocol import SearchHit, SearchRequest, SearchResponse
from assistant.api.state import ApiState
from assistant.chat.protocol import ProductCard


def router(state: ApiState) -> APIRouter:
    api = APIRouter(tags=["search"])
    shop = state.shop

    @api.post("/search", response_model=SearchResponse)
    def search(body: SearchRequest) -> SearchResponse:
        """Product search with the assistant's retriever; filters are validated against the catalogue."""
        results = shop.index.products.run(body.query, top_k=body.top_k, filters=body.filters, mode=body.mode)
        return SearchResponse(
            query_text=results.query.text,
            filters=results.filters,
            confidence=results.confidence,
            hits=[SearchHit(product=ProductCard.from_hit(h), score=h.score) for h in results.hits],
        )

    return api
