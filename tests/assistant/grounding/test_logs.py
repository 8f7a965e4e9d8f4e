"""Logs never keep contact details; the model never sees them when redaction is on (the default)."""

import logging

import pytest

from assistant.grounding.logs import RedactPII, install_redaction


def test_filter_scrubs_contact_details_but_keeps_order_ids(caplog):
    logger = logging.getLogger("shopassist.test-logs")
    caplog.handler.addFilter(RedactPII())
    with caplog.at_level(logging.WARNING, logger="shopassist.test-logs"):
        logger.warning("customer %s wrote from %s, call +1 415 555 0199", "C1001", "maya@example.com")
        logger.warning("order probe: customer C1001 asked for order HP-ORD-50005")
    text = caplog.text
    assert "maya@example.com" not in text and "555 0199" not in text and "{{Email}}" in text
    assert "HP-ORD-50005" in text and "C1001" in text


def test_install_is_idempotent():
    logger = logging.getLogger("shopassist.test-install")
    logger.addHandler(logging.NullHandler())
    install_redaction(logger)
    install_redaction(logger)
    assert sum(isinstance(f, RedactPII) for f in logger.handlers[0].filters) == 1


@pytest.mark.slow
def test_customer_contact_details_do_not_reach_the_model(demo_shop_real):
    from assistant.chat.protocol import ChatRequest
    from assistant.chat.service import ChatOptions, ChatService
    from assistant.generation.fake import FakeGenerator

    gen = FakeGenerator()
    chat = ChatService(demo_shop_real.index, gen, demo_shop_real.orders)
    chat.respond(ChatRequest(message="waterproof boots, email me at maya@example.com"))
    prompt = " ".join(m.content for r in gen.requests for m in r.messages)
    assert gen.requests and "maya@example.com" not in prompt and "{{Email}}" in prompt
    raw = ChatService(demo_shop_real.index, gen, demo_shop_real.orders, ChatOptions(redact_model_input=False))
    raw.respond(ChatRequest(message="waterproof boots, email me at maya@example.com"))
    assert "maya@example.com" in gen.requests[-1].messages[-1].content
