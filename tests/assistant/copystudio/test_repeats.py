"""The repeated-4-gram gate: a draft that says the same four words twice is retried with feedback
naming them or repaired by dropping the sentence that repeats, and no final text repeats a word
4-gram (counted as the eval counts it: one function for both)."""

import pytest

import finetune.copy_eval as copy_eval
from assistant.copystudio.protocol import CopyControls, CopyRequest
from assistant.copystudio.service import drop_repeats, repeated_ngrams, repeats_ngram, split_units

GOOD = "A rugged brown hiking boot from Ridgeback Trail Co., ready for long days on rocky trails and wet meadows alike."
# Two sentences the checker passes; the second says "ready for long days" again.
REPEATING = (
    "A rugged brown hiking boot, ready for long days on rocky trails. "
    "It keeps you ready for long days in the hills and meadows."
)


def run(service, **controls):
    return service.run(CopyRequest(product_id="HP-1001", controls=CopyControls(**controls)))


def test_the_gate_and_the_eval_count_repeats_the_same_way():
    assert copy_eval.repeats_ngram is repeats_ngram
    assert repeated_ngrams(REPEATING) == ["ready for long days"]
    assert repeated_ngrams("Ready, for long days! READY for long-days.") == ["ready for long days"]
    assert not repeats_ngram(GOOD)


def test_the_later_sentence_that_repeats_is_dropped():
    units = split_units(f"{REPEATING} Rain or shine.")
    assert [u.text for u in drop_repeats(units)] == [
        "A rugged brown hiking boot, ready for long days on rocky trails.",
        "Rain or shine.",
    ]
    looping = split_units("Grip on the trail and grip on the trail and grip on the trail. A boot.")
    assert [u.text for u in drop_repeats(looping)] == ["A boot."]


def test_a_repeating_draft_is_retried_with_feedback_naming_the_repeat(copy_service, fake_generator):
    fake_generator.enqueue(REPEATING, GOOD)
    result = run(copy_service)
    assert result.attempts == 2 and result.source == "model"
    assert result.drafts[0].unsupported == []
    assert 'repeats "ready for long days"' in result.drafts[0].problems
    feedback = fake_generator.requests[1].messages[-1].content
    assert '"ready for long days"' in feedback
    assert result.text.startswith(GOOD) and not repeats_ngram(result.text)


def test_a_draft_that_keeps_repeating_is_repaired_without_the_repeating_sentence(
    copy_service, fake_generator
):
    fake_generator.enqueue(REPEATING, REPEATING)
    result = run(copy_service)
    assert result.source == "repaired"
    assert result.text.startswith("A rugged brown hiking boot, ready for long days on rocky trails.")
    assert "in the hills" not in result.text
    assert not repeats_ngram(result.text) and result.unsupported == [] and result.length_ok


def test_feedback_names_repeats_beside_unsupported_claims(copy_service, fake_generator):
    fake_generator.enqueue(REPEATING.replace("brown", "black"), GOOD)
    run(copy_service)
    feedback = fake_generator.requests[1].messages[-1].content
    assert '"black"' in feedback and 'repeats "ready for long days"' in feedback


@pytest.mark.parametrize("length", ["short", "medium", "long"])
def test_facts_and_closings_never_repeat_what_the_lead_said(copy_service, fake_generator, length):
    # The lead already says the closings the template would add to reach the length.
    lead = "Add it to your cart today. It also makes a thoughtful gift. A rugged brown hiking boot."
    fake_generator.enqueue(lead)
    result = run(copy_service, length=length)
    assert result.source == "model" and result.unsupported == []
    assert not repeats_ngram(result.text), result.text


def test_no_final_text_repeats_a_4gram(copy_service, demo_products):
    for pid in demo_products:
        for tone in ("friendly", "premium", "technical", "playful"):
            for length in ("short", "medium", "long"):
                result = copy_service.run(
                    CopyRequest(product_id=pid, controls=CopyControls(tone=tone, length=length))
                )
                assert not repeats_ngram(result.text), (pid, tone, length, result.text)
