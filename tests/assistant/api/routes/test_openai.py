"""The official `openai` SDK against `/v1/chat/completions` and `/v1/models` on a real server:
streamed and whole answers with the grounded turn in the `shopassist` extension field, follow-ups
from the messages alone, and the API's credentials and errors."""

from __future__ import annotations

import openai
import pytest

from assistant.api.app import create_app
from assistant.stores.feedback import FeedbackStore
from tests.assistant.api.conftest import app_with, live_server

pytestmark = pytest.mark.slow


@pytest.fixture
def sdk(demo_shop_real, tmp_path):
    app = create_app(demo_shop_real, feedback=FeedbackStore(tmp_path / "feedback.db"), warm_up=False)
    with live_server(app) as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="unused-locally", max_retries=0)


def test_models_lists_the_assistant(sdk):
    assert [m.id for m in sdk.models.list().data] == ["shopassist"]


def test_whole_answer_with_cards_and_citations(sdk):
    done = sdk.chat.completions.create(
        model="shopassist", messages=[{"role": "user", "content": "waterproof boots under 100"}]
    )
    text = done.choices[0].message.content or ""
    turn = (done.model_extra or {})["shopassist"]
    assert done.object == "chat.completion" and done.choices[0].finish_reason == "stop"
    assert turn["route"] == "products" and turn["products"] and text == turn["text"]
    assert all(card["price"] <= 100 and f"[{card['id']}]" in text for card in turn["products"])
    assert [c["id"] for c in turn["citations"]] == [p["id"] for p in turn["products"]]


def test_streamed_answer_spells_out_the_turn_and_ends_with_it(sdk):
    stream = sdk.chat.completions.create(
        model="shopassist",
        messages=[{"role": "user", "content": "how many days do I have to return something?"}],
        stream=True,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    last = chunks[-1]
    turn = (last.model_extra or {})["shopassist"]
    assert len(chunks) >= 3 and last.choices[0].finish_reason == "stop"
    assert turn["route"] == "faq" and turn["citations"] and text.split() == turn["text"].split()


def test_follow_up_resolves_from_the_messages_alone(sdk):
    first = sdk.chat.completions.create(
        model="shopassist", messages=[{"role": "user", "content": "waterproof boots"}]
    )
    shown = [p["id"] for p in (first.model_extra or {})["shopassist"]["products"]]
    follow = sdk.chat.completions.create(
        model="shopassist",
        messages=[
            {"role": "user", "content": "waterproof boots"},
            {"role": "assistant", "content": first.choices[0].message.content or ""},
            {"role": "user", "content": "tell me more about the second one"},
        ],
    )
    turn = (follow.model_extra or {})["shopassist"]
    assert [p["id"] for p in turn["products"]] == [shown[1]]


def test_bad_conversations_get_the_api_error_shape(sdk):
    with pytest.raises(openai.BadRequestError, match="must end with a user message"):
        sdk.chat.completions.create(model="shopassist", messages=[{"role": "system", "content": "hi"}])


def test_same_credentials_as_the_rest_of_the_api(demo_shop_real, tmp_path):
    key = "s3cret-storefront-key"
    app, _ = app_with(demo_shop_real, tmp_path, keys=[key])
    with live_server(app) as url:
        # Keys are required from every client once configured, loopback included.
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{url}/v1", api_key="wrong-key-of-16-chars", max_retries=0).models.list()
        keyed = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
        assert keyed.models.list().data[0].id == "shopassist"
