"""Which language a customer wrote in, so the reply can match it or say honestly that it cannot.

A small model writes English only; the facts (cards, policy text, order rows) are data in the
shop's language. So for a message in another language the assistant does not let the model try:
it opens with a fixed note in the customer's language and shows the grounded facts. With a model
that can write the language (`generator.languages`), the model phrases as usual. Detection counts
each language's most frequent function words: enough for a chat message, no model needed.
"""

from __future__ import annotations

import re


def _split(words: str) -> list[str]:
    return words.split()


_WORDS: dict[str, frozenset[str]] = {
    "es": frozenset(_split("el la los las de del que y en un una por para con no es mi tienen hay como cuánto cuanto "
              "dónde donde quiero necesito botas zapatos envío devolución pedido gracias hola")),
    "fr": frozenset(_split("le la les des du de et en un une pour avec est mon ma mes vous avez je veux besoin où "
              "combien livraison retour commande merci bonjour chaussures")),
    "de": frozenset(_split("der die das und ist ich nicht mit für ein eine mein meine haben sie wo wie viel kann "
              "bestellung lieferung rückgabe danke hallo schuhe")),
    "it": frozenset(_split("il lo la gli le di che e per con non è un una mio mia avete voglio dove quanto "
              "ordine spedizione reso grazie ciao scarpe")),
    "pt": frozenset(_split("o a os as de do da que e em um uma para com não é meu minha vocês têm quero onde quanto "
              "pedido entrega devolução obrigado olá sapatos")),
}  # fmt: skip
_EN = frozenset(
    _split("the a an and is are to of for with my i you do does have can what where how my order")
)
_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)


def detect_language(text: str) -> str:
    """ISO 639-1 code of the message's language; 'en' unless another language clearly leads."""
    words = [w.lower() for w in _TOKEN.findall(text)]
    if len(words) < 2:
        return "en"
    english = sum(w in _EN for w in words)
    best, hits = "en", english
    for code, vocab in _WORDS.items():
        count = sum(w in vocab for w in words)
        if count > hits:
            best, hits = code, count
    return best if best == "en" or hits >= max(2, english + 1) else "en"
