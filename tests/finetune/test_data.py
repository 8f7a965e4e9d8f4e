"""Dataset building: placeholders, PII, ids, split, fingerprint, and the assistant-only loss mask."""

import csv

import pytest

from finetune.data import (
    DataError,
    Example,
    build_copy,
    build_cs,
    collate,
    encode,
    fill_placeholders,
    fingerprint,
    pack_rows,
    split_examples,
)
from finetune.tasks import DEMO_PRODUCTS
from prompts.tasks import product_attributes


def write_replies(path, rows):
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["instruction", "intent", "category", "response"])
        w.writerows(rows)
    return path


def test_fill_placeholders_known_and_unknown():
    text = "Visit {{Website Name}} or call {{Customer Support Phone Number}}; {{ company name }} thanks you."
    out = fill_placeholders(text, {"Website Name": "Harbor & Pine", "Company Name": "H&P"})
    assert out == "Visit Harbor & Pine or call {{Customer Support Phone Number}}; H&P thanks you."


def test_build_cs_scrubs_fills_and_skips(tmp_path):
    path = write_replies(
        tmp_path / "r.csv",
        [
            [
                "cancel order #12345 mail jo@x.io",
                "cancel_order",
                "ORDER",
                "Sure, at {{Website Name}} we cancel {{Order Number}}.",
            ],
            [
                "cancel order #12345 mail jo@x.io",
                "cancel_order",
                "ORDER",
                "Sure, at {{Website Name}} we cancel {{Order Number}}.",
            ],
            ["", "x", "y", "empty question"],
            ["call me 555-123-4567", "contact", "CONTACT", "Call {{Customer Support Phone Number}}."],
        ],
    )
    data = build_cs(path, "Harbor & Pine")
    assert len(data.examples) == 2
    assert data.skipped == {"duplicate": 1, "empty instruction or response": 1}
    first = data.examples[0]
    assert first.user == "cancel order {{Order Number}} mail {{Email}}"
    assert first.assistant == "Sure, at Harbor & Pine we cancel {{Order Number}}."
    assert data.examples[1].user == "call me {{Phone Number}}"
    assert data.scrubbed == {"order": 1, "email": 1, "phone": 1}
    assert "Harbor & Pine" in first.system


def test_bad_input_says_what_to_fix(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        build_cs(tmp_path / "missing.csv", "S")
    bad = tmp_path / "bad.csv"
    bad.write_text("question,answer\nq,a\n")
    with pytest.raises(DataError, match="lacks the column"):
        build_cs(bad, "S")


def test_build_copy_from_demo_catalogue():
    data = build_copy([DEMO_PRODUCTS], "Harbor & Pine", max_examples=5)
    assert len(data.examples) == 5
    ex = data.examples[0]
    assert ex.user.startswith("Write a product description")
    assert "Title: " in ex.user and "Price: " in ex.user
    assert ex.assistant and "{{" not in ex.assistant


def test_product_attributes_dedupes_spec_tags():
    from retrieval.schema import Product

    p = Product(
        id="X1",
        title="aw bellies",
        color="Red",
        material="Patent Leather",
        tags=["color: Red", "outer material: Patent Leather", "heel height: 1 inch"],
    )
    attrs = product_attributes(p)
    assert attrs["Colour"] == "Red" and "Color" not in attrs and "Outer material" not in attrs
    assert attrs["Heel height"] == "1 inch"


def make(i: int, text: str = "reply") -> Example:
    return Example(id=f"id-{i}", task="cs", system="sys", user=f"q{i}", assistant=f"{text} {i}")


def test_split_is_deterministic_and_stable_under_reordering():
    examples = [make(i) for i in range(400)]
    train, val = split_examples(examples, 0.1)
    train2, val2 = split_examples(list(reversed(examples)), 0.1)
    assert {e.id for e in val} == {e.id for e in val2}
    assert 20 <= len(val) <= 60 and len(train) + len(val) == 400
    # Adding examples never moves an existing one across the split.
    _, val3 = split_examples(examples + [make(i) for i in range(400, 500)], 0.1)
    assert {e.id for e in val} <= {e.id for e in val3}


def test_fingerprint_stable_and_sensitive():
    a = [make(i) for i in range(5)]
    assert fingerprint(a) == fingerprint([make(i) for i in range(5)])
    assert fingerprint(a) != fingerprint(a[:4] + [make(4, "changed")])
    assert fingerprint(a) != fingerprint(list(reversed(a)))


@pytest.fixture(scope="module")
def tokenizer(smollm_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm_dir)


def test_loss_mask_covers_only_the_assistant_turn(tokenizer):
    ex = Example("a", "cs", "You help.", "Where is my parcel?", "It ships tomorrow.")
    enc = encode(tokenizer, ex, 256)
    assert enc is not None and len(enc.input_ids) == len(enc.labels)
    target = [t for t, lab in zip(enc.input_ids, enc.labels, strict=True) if lab != -100]
    assert tokenizer.decode(target) == "It ships tomorrow.<|im_end|>"
    first = enc.labels.index(next(x for x in enc.labels if x != -100))
    assert tokenizer.decode(enc.input_ids[:first]).endswith("<|im_start|>assistant\n")
    assert all(x == -100 for x in enc.labels[:first])


def test_long_replies_cut_and_long_prompts_dropped(tokenizer):
    ex = Example("a", "cs", "s", "q", "word " * 500)
    enc = encode(tokenizer, ex, 64)
    assert enc is not None and len(enc.input_ids) == 64
    assert encode(tokenizer, Example("b", "cs", "s", "long " * 200, "a"), 64) is None


def test_packing_keeps_examples_whole_and_positions_restart(tokenizer):
    encs = [encode(tokenizer, make(i), 128) for i in range(6)]
    rows = pack_rows([e for e in encs if e], 128)
    assert sum(len(r) for r in rows) == 6 and len(rows) < 6
    batch = collate(rows, pad_id=2, packed=True)
    assert batch.attention_mask is None
    row = batch.position_ids[0]
    assert row.count(0) >= 2  # several examples (and maybe padding) start at position 0
    assert batch.real_tokens == sum(len(e.input_ids) for e in encs if e)
    padded = collate([[e] for e in encs if e], pad_id=2, packed=False, pad_to=128)
    assert all(len(r) == 128 for r in padded.input_ids) and padded.attention_mask is not None


# -- the draft task ----------------------------------------------------------------------------------
def test_draft_examples_clean_invented_sentences_and_keep_the_cs_split(tmp_path):
    from finetune.data import build_cs, build_draft

    replies = tmp_path / "replies.csv"
    replies.write_text(
        "instruction,intent,category,response\n"
        '"cancel order 732201349959 please",cancel_order,ORDER,"I can help you cancel {{Order Number}}.\n\n'
        "1. Sign in to your account.\n2. Pay the 15 dollar fee first.\n3. Open your order details and click Cancel Order.\n\n"
        "Our team is available 24/7 to help with order 732201349959. Feel free to call our toll-free "
        'number {{Customer Support Phone Number}}. Calls are toll-free."\n'
        '"how to fly",fly,TRAVEL,"Flap your arms."\n'
    )
    faq = tmp_path / "faq.csv"
    faq.write_text(
        "intent,category,answer\ncancel_order,ORDER,You can cancel from your order details with the Cancel Order button.\n"
    )
    data = build_draft(replies, faq)
    assert len(data.examples) == 1 and data.skipped["intent not in the FAQ"] == 1
    ex = data.examples[0]
    assert ex.task == "draft" and "Answer: You can cancel" in ex.user and "{{Order Number}}" in ex.user
    assert "732201349959" not in ex.user + ex.assistant  # scrubbed, also where the reply echoes it
    # the fee line and the promise of free calls are dropped, the list renumbered; "24/7" and
    # "toll-free number" become what the agent fills, so the contact closing stays
    assert ex.assistant == (
        "I can help you cancel {{Order Number}}.\n\n1. Sign in to your account.\n"
        "2. Open your order details and click Cancel Order.\n\n"
        "Our team is available {{Customer Support Availability}} to help with order {{Order Number}}. "
        "Feel free to call our number {{Customer Support Phone Number}}."
    )
    assert data.skipped["sentences with unsupported claims (dropped)"] == 2
    cs = build_cs(replies, "Shop")
    assert ex.id == cs.examples[0].id  # the same held-out tickets as the cs task


def test_draft_targets_take_the_answers_contacts_and_keep_its_facts(tmp_path):
    """The service fills contact placeholders from the answer and rejects a draft that leaves out the
    answer's numbers or address; the targets are built to pass the same check."""
    from assistant.grounding.replies import check_draft
    from finetune.data import build_draft

    replies = tmp_path / "replies.csv"
    with replies.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["instruction", "intent", "response"])
        w.writerow(
            [
                "how can I reach you",
                "contact",
                "I'm here to help you get in touch.\n\nYou can call us at {{Customer Support Phone Number}} "
                "or use {{Live Chat}}.\n\nIs there anything else I can help with?",
            ]
        )
        w.writerow(["when will it arrive", "delivery", "I understand you want to know when it arrives."])
    faq = tmp_path / "faq.csv"
    faq.write_text(
        "intent,category,answer\n"
        'contact,CONTACT,"Email support@example.com or call (123) 456-7890."\n'
        'delivery,SHIPPING,"We aim to be quick. Standard delivery takes 3-5 business days."\n'
    )
    contact, delivery = build_draft(replies, faq).examples
    assert "call us at (123) 456-7890 or use {{Live Chat}}" in contact.assistant
    # the e-mail the reply never named comes as the answer's sentence, before the closing paragraph
    paragraphs = contact.assistant.split("\n\n")
    assert paragraphs[2] == "Email support@example.com or call (123) 456-7890." and len(paragraphs) == 4
    assert delivery.assistant.endswith("\n\nStandard delivery takes 3-5 business days.")
    for ex, answer in ((contact, "Email support@example.com or call (123) 456-7890."),):
        assert not [p for p in check_draft(ex.assistant, [ex.user], answer=answer) if "leaves out" in p]


def test_a_draft_sample_takes_every_intent_not_the_first_rows(tmp_path):
    from finetune.data import build_draft

    replies = tmp_path / "replies.csv"
    with replies.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["instruction", "intent", "response"])
        for intent in ("a", "b", "c"):
            for i in range(5):
                w.writerow(
                    [
                        f"question {i} about {intent}",
                        intent,
                        f"Here is what to do about {intent} in a few steps.",
                    ]
                )
    faq = tmp_path / "faq.csv"
    faq.write_text("intent,answer\na,About a.\nb,About b.\nc,About c.\n")
    sample = build_draft(replies, faq, max_examples=4).examples
    assert [e.meta["intent"] for e in sample] == ["a", "b", "c", "a"]
    assert sample[0].user.endswith("question 0 about a") and sample[3].user.endswith("question 1 about a")


def test_the_draft_task_needs_both_files(tmp_path):
    from finetune.tasks import build_task_data

    f = tmp_path / "replies.csv"
    f.write_text("instruction,intent,response\nx,y,z\n")
    with pytest.raises(DataError, match="--data replies.csv --data faq.csv"):
        build_task_data("draft", [f], "Shop", None)


def test_exported_agent_feedback_is_draft_training_data_with_the_shops_faq(tmp_path):
    """`assist feedback export x.csv` writes instruction,intent,category,response with the shop's FAQ
    ids as intents: with the shop's faq.csv that is the draft task's next training data."""
    from finetune.data import build_draft
    from finetune.tasks import DEMO_PRODUCTS

    export = tmp_path / "feedback.csv"
    with export.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["instruction", "intent", "category", "response"])
        w.writerow(
            [
                "how long does shipping take?",
                "faq-shipping-standard",
                "shipping",
                "Standard shipping takes 3-5 business days and costs $5.95, free from $50.",
            ]
        )
    data = build_draft(export, DEMO_PRODUCTS.with_name("faq.csv"))
    (ex,) = data.examples
    assert "Answer: Standard shipping within the US takes 3-5 business days" in ex.user
    assert ex.assistant.startswith("Standard shipping takes 3-5 business days")  # its numbers are the FAQ's


def test_copy_targets_keep_only_supported_sentences_and_carry_their_controls(tmp_path):
    """Cleaned references (issue 16): a sentence with a colour, number or material the attributes do
    not hold is dropped; a product left with too little supported text is skipped, and the kept
    example's prompt names the tone, length and form its target shows."""
    from finetune.data import MIN_COPY_WORDS, clean_copy_target, copy_controls

    attrs = {"Title": "Ridgeline Hiking Boot", "Colour": "brown", "Material": "leather"}
    text = (
        "A sturdy brown leather boot for long days on rocky trails and wet meadows alike. "
        "It comes in red and blue as well. "
        "It weighs 450 grams per boot. "
        "The cushioned collar keeps every step comfortable from the trailhead to the summit."
    )
    kept, dropped = clean_copy_target(text, attrs)
    assert dropped == 2 and "red" not in kept and "450" not in kept
    assert kept.startswith("A sturdy brown leather boot") and kept.endswith("to the summit.")
    assert copy_controls("Love it! You will adore how your feet feel.")["tone"] == "friendly"
    assert copy_controls("Rated 5 V, 2 A, 10 W output.")["tone"] == "technical"
    assert copy_controls(" ".join(["word"] * 60))["length"] == "medium"

    catalogue = tmp_path / "products.csv"
    catalogue.write_text(
        "id,title,price,color,material,description\n"
        f'B1,Ridgeline Hiking Boot,99,brown,leather,"{text}"\n'
        'B2,Trail Sock,9,grey,wool,"Available in red, blue and green. Pack of 12 pairs."\n'
    )
    data = build_copy([catalogue], "Harbor & Pine")
    assert [e.meta["product_id"] for e in data.examples] == ["B1"]
    # B2's lines are a bare list to the boilerplate cut ("Pack of 12 pairs."), so the checker sees none
    # of them; B1's two unsupported sentences are dropped by the checker. B2 has two key attributes,
    # too few to write a target from, so it is skipped.
    assert data.skipped["too little supported text"] == 1 and data.skipped["unsupported sentences"] >= 2
    example = data.examples[0]
    assert "red" not in example.assistant and len(example.assistant.split()) >= MIN_COPY_WORDS
    assert "Tone: premium\nLength: short\nForm: prose" in example.user
