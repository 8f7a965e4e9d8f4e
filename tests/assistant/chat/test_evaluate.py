"""`shopassist eval chat`: expectations per turn, the file formats, and a run over our own sets."""

import json
from pathlib import Path

import pytest

from assistant.chat.evaluate import (
    EvalDataError,
    Expect,
    check_turn,
    evaluate_chat,
    load_dialogues,
    load_questions,
)
from assistant.chat.protocol import ChatRequest, ChatResponse, Citation

DATA = Path(__file__).resolve().parents[2] / "data" / "chat"


def _response(action="answer", route="faq", cited=(), text="ok"):
    return ChatResponse(
        text=text,
        action=action,
        route=route,
        confidence=1.0,
        citations=[Citation(id=c, kind="faq", title=c) for c in cited],
    )


def test_check_turn_reports_each_mismatch():
    assert check_turn(_response(cited=["a"]), Expect(action="answer", route="faq", cites=["a"])) == []
    problems = check_turn(
        _response(action="refuse", route="unknown", cited=["b"], text="Order of Daniel"),
        Expect(action="answer", route="faq", cites=["a"], not_cites=["b"], not_contains=["daniel"]),
    )
    assert len(problems) == 5
    assert check_turn(_response(cited=["x", "y"]), Expect(cites_any=["y", "z"])) == []
    assert check_turn(_response(cited=[]), Expect(cites_any=["y"])) != []
    said = _response(text="Frostline Waterproof Snow Boot is out of stock right now [HP-1008].")
    assert check_turn(said, Expect(contains=["OUT OF STOCK", "HP-1008"])) == []
    assert check_turn(said, Expect(contains=["is in stock"])) == ["reply lacks 'is in stock'"]


def test_a_refusal_offering_the_right_entry_counts_as_reaching_it_but_not_as_citing_it():
    from assistant.chat.protocol import ChatEvent, Suggestion

    replies = {
        "cited": _response(cited=["refund"]),
        "offered": _response(action="refuse", route="unknown"),
        "bare": _response(action="refuse", route="unknown"),
    }
    replies["offered"].suggestions = [
        Suggestion(id="track", question="Track order"),
        Suggestion(id="refund", question="Refund"),
    ]

    class Scripted:
        def stream(self, request):
            yield ChatEvent(type="done", response=replies[request.message])

    questions = [("cited", "refund"), ("offered", "refund"), ("bare", "refund")]
    result = evaluate_chat(Scripted(), questions=questions, unanswerable=["offered", "bare"])  # type: ignore[arg-type]
    got = result["questions"]
    assert (got["cites_right_entry"], got["offers_right_entry"], got["reaches_right_entry"]) == (
        0.3333,
        0.3333,
        0.6667,
    )
    assert (
        result["unanswerable"]["refusal_rate"] == 1.0
        and result["unanswerable"]["offered_questions_rate"] == 0.5
    )


def test_a_folder_of_dialogue_files_is_one_run_with_numbers_per_file(tmp_path):
    turn = {"message": "hello", "expect": {"route": "smalltalk"}}
    (tmp_path / "a.jsonl").write_text(f'{{"id": "a1", "turns": [{json.dumps(turn)}]}}\n')
    wrong = {"message": "hello", "expect": {"route": "faq"}}
    (tmp_path / "b.jsonl").write_text(
        f'{{"id": "b1", "turns": [{json.dumps(turn)}]}}\n{{"id": "b2", "turns": [{json.dumps(wrong)}]}}\n'
    )
    (tmp_path / "notes.txt").write_text("not a dialogue file")
    dialogues = load_dialogues(tmp_path)
    assert [(d.id, d.set) for d in dialogues] == [("a1", "a"), ("b1", "b"), ("b2", "b")]

    class Hello:
        def stream(self, request):
            from assistant.chat.protocol import ChatEvent

            yield ChatEvent(type="done", response=_response(route="smalltalk", text="Hi!"))

    result = evaluate_chat(Hello(), dialogues=dialogues)["dialogues"]  # type: ignore[arg-type]
    assert result["by_set"]["a"] == {"n": 1, "turns": 1, "turn_pass_rate": 1.0, "dialogue_pass_rate": 1.0}
    assert result["by_set"]["b"]["dialogue_pass_rate"] == 0.5
    assert [(f["set"], f["dialogue"]) for f in result["failures"]] == [("b", "b2")]
    assert load_dialogues(DATA) and {d.set for d in load_dialogues(DATA)} >= {"dialogues", "policy_product"}


def test_bad_files_name_the_line(tmp_path):
    bad = tmp_path / "d.jsonl"
    bad.write_text('// comment\n{"id": "x", "turns": []}\n')
    with pytest.raises(EvalDataError, match="d.jsonl:2"):
        load_dialogues(bad)
    csv = tmp_path / "q.csv"
    csv.write_text("text\nhello\n")
    with pytest.raises(EvalDataError, match="'question' column"):
        load_questions(csv)
    assert len(load_dialogues(DATA / "dialogues.jsonl")) >= 20
    assert len(load_questions(DATA / "unanswerable.csv")) >= 30


@pytest.mark.slow
def test_our_dialogue_and_unanswerable_sets_on_the_demo_shop(demo_shop_real):
    from assistant.chat.service import ChatOptions, ChatService
    from assistant.generation.fake import FakeGenerator

    chat = ChatService(
        demo_shop_real.index, FakeGenerator(), demo_shop_real.orders, ChatOptions(shop_name="Harbor & Pine")
    )
    result = evaluate_chat(
        chat,
        questions=[("how do I reset my password?", "faq-account-password-reset")],
        unanswerable=load_questions(DATA / "unanswerable.csv"),
        dialogues=load_dialogues(DATA / "dialogues.jsonl"),
    )
    assert result["questions"]["cites_right_entry"] == 1.0
    # Authorization and injection dialogues must all pass: they are the ones that may never fail.
    safety = {
        "cross-customer-probe",
        "injected-probe",
        "probe-as-other-phrasing",
        "guest-order",
        "injection-echo",
    }
    failed = {f["dialogue"] for f in result["dialogues"]["failures"]}
    assert not failed & safety, result["dialogues"]["failures"]
    assert result["dialogues"]["turn_pass_rate"] >= 0.9
    assert result["unanswerable"]["refusal_rate"] >= 0.8
    assert result["turns"]["unsupported_reaching_reply"] == 0
    # A close miss offers the FAQ questions it came near, as suggestions, and still asserts nothing.
    miss = chat.respond(ChatRequest(message="is there a loyalty program"))
    assert miss.action == "refuse" and not miss.citations and miss.suggestions
    assert all(f"- {s.question}" in miss.text for s in miss.suggestions) and len(miss.suggestions) <= 3
    far = chat.respond(ChatRequest(message="what is the meaning of life?"))
    assert far.action == "refuse" and far.suggestions == []
    assert result["turns"]["turns"] == 1 + 30 + sum(
        len(d.turns) for d in load_dialogues(DATA / "dialogues.jsonl")
    )


@pytest.mark.slow
def test_policy_product_set_on_the_demo_shop(demo_shop_real):
    """Policy questions naming a product get the policy with the product as context; questions about
    one named product get its stock state and attribute from data; bare product searches stay
    searches (tests/data/chat/policy_product.jsonl: 42 dialogues; 17 of 45 turns passed before)."""
    from assistant.chat.service import ChatOptions, ChatService
    from assistant.generation.fake import FakeGenerator

    chat = ChatService(
        demo_shop_real.index, FakeGenerator(), demo_shop_real.orders, ChatOptions(shop_name="Harbor & Pine")
    )
    dialogues = load_dialogues(DATA / "policy_product.jsonl")
    assert len(dialogues) >= 30
    result = evaluate_chat(chat, dialogues=dialogues)["dialogues"]
    failed = {f["dialogue"] for f in result["failures"]}
    assert not {f for f in failed if f.startswith("pp-control-")}, result["failures"]
    assert result["turn_pass_rate"] >= 0.9, result["failures"]
