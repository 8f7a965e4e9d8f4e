"""Request and response types of the REST API (the chat types are shared with the UI and CLI)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from assistant.chat.protocol import ChatRequest, ProductCard
from retrieval.filters import Filters


class ChatCompletionRequest(ChatRequest):
    stream: bool = Field(
        default=False, description="Server-sent events: `products`, `delta`... then `done` with the response"
    )


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=2000, description="What the shopper typed")
    top_k: int = Field(default=5, ge=1, le=50, description="How many products to return")
    filters: Filters | None = Field(
        default=None, description="Filters that win over the ones parsed from the query"
    )
    mode: Literal["hybrid", "lexical", "dense"] = Field(default="hybrid", description="Retriever to use")


class SearchHit(BaseModel):
    product: ProductCard
    score: float


class SearchResponse(BaseModel):
    query_text: str = Field(description="The query after price, brand and other filters were taken out")
    filters: Filters = Field(description="The filters applied (parsed and explicit)")
    confidence: float
    hits: list[SearchHit]


class FeedbackResponse(BaseModel):
    id: int
    stored: bool = True


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    products: int
    faq_documents: int = Field(description="FAQ phrasings stored (questions, answers, examples)")
    engine: str
    problems: list[str] = Field(default_factory=list)


class Readiness(BaseModel):
    """`GET /readyz`: whether this replica should get traffic (a load balancer's question)."""

    status: Literal["ready", "loading", "unavailable"] = Field(
        description="'loading' while start-up loads the index and model; 'unavailable' when the store cannot be read"
    )
    problems: list[str] = Field(default_factory=list, description="What is missing or degraded, and why")
    model_unavailable: str | None = Field(
        default=None,
        description="Why the model is not answering (replies then close with template sentences)",
    )
    load_seconds: float | None = Field(default=None, description="How long start-up loading took")
    generating: int = Field(default=0, description="Generations running now")
    waiting: int = Field(default=0, description="Generations waiting for a slot")
    model_servers: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Each model server of a remote engine: URL, up or down (and why), requests in flight",
    )


class ErrorBody(BaseModel):
    message: str
    type: str
    code: int


class ErrorResponse(BaseModel):
    """Every error has this shape (as in OpenAI-compatible servers), with a message saying what to fix."""

    error: ErrorBody


def error_response(status: int, message: str, kind: str) -> JSONResponse:
    """Every error the API sends, from a route or from the door (security.Guard), in this shape."""
    body = ErrorResponse.model_validate({"error": {"message": message, "type": kind, "code": status}})
    return JSONResponse(body.model_dump(), status_code=status)


def stream_error(exc: BaseException, settings: Any) -> dict[str, Any]:
    """The error body for a stream whose status line is already sent: the same `{message, type,
    code}` a JSON reply would carry (a dependency named, what to do), never internals of a bug."""
    from assistant import errors

    known: BaseException | None = exc if errors.classify(exc) else errors.dependency_error(exc, settings)
    if known is None:
        return {
            "message": "the reply failed; please try again or ask for a person",
            "type": "internal_error",
            "code": 500,
        }
    kind = errors.classify(known)
    return {"message": str(known), "type": errors.kind_name(known), "code": kind.status if kind else 500}
