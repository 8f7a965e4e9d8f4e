"""Language detection, and the honest note when the model cannot write the customer's language."""

import pytest

from assistant.grounding.language import detect_language


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("¿Tienen botas impermeables por menos de 100?", "es"),
        ("où est ma commande?", "fr"),
        ("Wo ist meine Bestellung? Ich warte seit Tagen", "de"),
        ("Quanto costa la spedizione per il mio ordine?", "it"),
        ("Quero devolver o meu pedido", "pt"),
        ("waterproof boots under 100", "en"),
        ("do you ship to canada", "en"),
        ("hola", "en"),  # one word is too little to switch
        ("la sportiva boots for the trail", "en"),  # a brand with a foreign article stays English
    ],
)
def test_detect_language(text, code):
    assert detect_language(text) == code


@pytest.mark.slow
def test_reply_in_another_language_is_a_fixed_note_plus_facts(demo_shop_real):
    from assistant.chat.protocol import ChatRequest
    from assistant.chat.service import ChatOptions, ChatService
    from assistant.generation.fake import FakeGenerator

    gen = FakeGenerator()
    chat = ChatService(demo_shop_real.index, gen, demo_shop_real.orders)
    reply = chat.respond(ChatRequest(message="où est ma commande HP-ORD-50001 ?", customer_id="C1001"))
    assert reply.text.startswith("Désolé") and "HP-ORD-50001" in reply.text and reply.route == "order"
    assert not gen.requests  # the model was not asked to write French
    multilingual = ChatService(
        demo_shop_real.index, gen, demo_shop_real.orders, ChatOptions(languages=["en", "fr"])
    )
    assert not multilingual.respond(ChatRequest(message="où est ma commande ?")).text.startswith("Désolé")
