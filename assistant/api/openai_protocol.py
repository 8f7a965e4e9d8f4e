"""The OpenAI chat-completions wire format, as far as a grounded shop assistant needs it.

Only what clients send and read is modelled (Open WebUI, LangChain `ChatOpenAI`, LlamaIndex
`OpenAILike`, the `openai` SDK); sampling fields they add (temperature, top_p, max_tokens...) are
accepted and ignored, because the reply's facts are rendered from data, not sampled. What the
assistant knows beyond text (cards, citations, action, state) rides in the `shopassist` extension
field of the response and of the last stream chunk; a client may send `shopassist.state` back for
exact follow-ups, or just the messages (then the state is recovered from the previous reply).
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.chat.followup import ConversationState
from assistant.chat.protocol import ChatResponse
from retrieval.filters import Filters

MODEL_ID = "shopassist"


class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text; content parts (the newer list form) are joined, non-text parts skipped."""
        if isinstance(self.content, list):
            return " ".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ShopassistOptions(BaseModel):
    """The extension a client may send: exact state, filters, and (operators only) the customer."""

    state: ConversationState | None = Field(default=None, description="The previous response's state")
    filters: Filters | None = Field(default=None, description="Filters that win over the parsed ones")
    customer_id: str | None = Field(
        default=None, description="Honoured for agent and admin keys only (audited), as in /v1/chat"
    )


class ChatCompletionsRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(default=MODEL_ID, description="Any name; the assistant is one model")
    messages: list[OpenAIMessage] = Field(
        min_length=1, description="The conversation; the last user message is answered"
    )
    stream: bool = False
    shopassist: ShopassistOptions = Field(default_factory=ShopassistOptions)


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def completion(response: ChatResponse, model: str, cid: str) -> dict[str, Any]:
    """A `chat.completion` object carrying the grounded turn in `shopassist`."""
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": response.text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "shopassist": response.model_dump(mode="json"),
    }


def chunk(
    cid: str,
    model: str,
    delta: dict[str, str],
    finish: str | None = None,
    response: ChatResponse | None = None,
) -> dict[str, Any]:
    """One `chat.completion.chunk`; the last one (finish_reason 'stop') carries the whole turn."""
    out: dict[str, Any] = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if response is not None:
        out["shopassist"] = response.model_dump(mode="json")
    return out


def model_list(owner: str) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": owner}],
    }
