"""The real path: SmolLM2 (embedded engine) + MiniLM retrieval on the demo shop, loaded once."""

import pytest

from assistant.chat.protocol import ChatRequest
from assistant.chat.service import ChatOptions, ChatService
from assistant.grounding.verify import verify

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_chat(demo_shop_real, embedded_generator):
    return ChatService(
        demo_shop_real.index,
        embedded_generator,
        demo_shop_real.orders,
        ChatOptions(shop_name="Harbor & Pine"),
    )


def test_product_question_with_the_real_models(real_chat):
    events = list(real_chat.stream(ChatRequest(message="waterproof boots under 100")))
    response = events[-1].response
    assert response.route == "products" and response.products
    assert all(p.price <= 100 and "Boot" in p.title for p in response.products)
    assert response.verifier.checked
    deltas = [e.delta for e in events if e.type == "delta"]
    # Facts first: the data-rendered answer is the first text streamed, before the model runs.
    assert response.products[0].title in deltas[0] and response.products[0].price_text() in deltas[0]
    model_text = "".join(deltas[1:]).strip()
    sources = [p.facts() for p in response.products] + ["waterproof boots under 100"]
    if model_text:  # the model's closing line reached the customer only because it checked out
        assert verify(model_text, sources).ok and response.text.endswith(model_text)
    else:
        assert response.verifier.fallback


def test_policy_question_with_the_real_models(real_chat):
    response = real_chat.respond(ChatRequest(message="can i pay with paypal?"))
    assert response.route == "faq" and response.citations[0].id == "faq-payment-methods"
    assert "PayPal" in response.text
