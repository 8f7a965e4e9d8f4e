"""The follow-up evaluation's own checks (independent of the verifier under test)."""

from assistant.chat.followup import ConversationState
from assistant.chat.protocol import ChatResponse, ModelUse
from assistant.chat.understanding import Intent, TurnRequest
from finetune.dialogue_eval import closing_text, understood, wrong_facts
from finetune.dialogues import Turn


class P:
    def __init__(self, title: str) -> None:
        self.title = title


def _turn(answer: str, kind: str = "stock") -> Turn:
    return Turn(
        kind,
        "is it in stock?",
        ConversationState(last="products"),
        Intent(op="stock", args={"ref": "1"}),
        answer,
        kind,
        [],
    )


def test_wrong_facts_compares_with_the_gold_answer():
    products = [P("Puddle Rain Boot"), P("Ridgeline Hiking Boot")]
    gold = _turn("Sorry, the Puddle Rain Boot is out of stock right now.")
    assert wrong_facts("The Puddle Rain Boot is out of stock.", gold, products) == []
    assert wrong_facts("Yes, the Puddle Rain Boot is in stock.", gold, products) == ["stock state"]
    assert wrong_facts("The Ridgeline Hiking Boot is out of stock.", gold, products) == [
        "names Ridgeline Hiking Boot"
    ]
    priced = _turn("The Puddle Rain Boot costs 59.99 USD.", "attribute")
    assert wrong_facts("The Puddle Rain Boot costs 49.99 USD.", priced, products) == ["number 49.99"]


def test_understood_counts_routes_for_policy_and_orders_and_requests_otherwise():
    gold = TurnRequest(op="pick", product_ids=["A"])
    done = ChatResponse(
        text="x", action="answer", route="products", confidence=1.0, request=gold.model_dump(mode="json")
    )
    assert understood(done, gold)
    assert not understood(done, TurnRequest(op="pick", product_ids=["B"]))
    assert understood(done.model_copy(update={"route": "faq"}), TurnRequest(op="policy"))
    assert not understood(done, TurnRequest(op="order"))
    assert closing_text(done) == ""  # no model text was shown
    written = done.model_copy(
        update={"text": "facts\n\nYes, it is.", "model": ModelUse(written_by="answer-lora")}
    )
    assert closing_text(written) == "Yes, it is."
