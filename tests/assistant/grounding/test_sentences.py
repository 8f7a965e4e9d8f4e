from assistant.grounding.claims import ClaimChecker
from assistant.grounding.sentences import Sentence, sentence_spans, split_sentences


def texts(text: str, **kw: bool) -> list[str]:
    return [s.text for s in sentence_spans(text, **kw)]


def test_decimals_and_dotted_acronyms_before_numbers_do_not_end_a_sentence():
    assert texts("Price 12.99 USD. Size U.S. 10! Really?") == ["Price 12.99 USD.", "Size U.S. 10!", "Really?"]


def test_abbreviations_and_initials_do_not_end_a_sentence():
    assert texts("Only Rs. 499 from Trail Co. today. It holds 1.5 L. Great!") == [
        "Only Rs. 499 from Trail Co. today.",
        "It holds 1.5 L.",
        "Great!",
    ]
    assert texts("See e.g. the Nike shoe. Mr. J. Smith said so.") == [
        "See e.g. the Nike shoe.",
        "Mr. J. Smith said so.",
    ]


def test_a_dotted_acronym_before_a_capital_ends_the_sentence():
    assert texts("Made in the U.S. It is great.") == ["Made in the U.S.", "It is great."]
    assert texts("Plan A. Then B.") == ["Plan A.", "Then B."]


def test_closing_quotes_and_repeated_marks_stay_with_their_sentence():
    assert texts('He said "Hi." Then (quietly.) left?! Yes.') == [
        'He said "Hi."',
        "Then (quietly.)",
        "left?!",
        "Yes.",
    ]


def test_no_split_without_whitespace_after_the_mark():
    assert texts("Version 2.0 is here.Next one") == ["Version 2.0 is here.Next one"]


def test_bullets_and_lines_are_units_with_their_spans():
    text = "Picks:\n  - Boots A. Warm\n* Boots B\nEnjoy! Bye."
    spans = sentence_spans(text)
    assert [s.text for s in spans] == ["Picks:", "- Boots A. Warm", "* Boots B", "Enjoy!", "Bye."]
    assert all(text[s.start : s.end] == s.text for s in spans)
    assert spans[1] == Sentence("- Boots A. Warm", 9, 24)


def test_colon_ends_a_sentence_only_when_asked():
    assert texts("Material: Cotton. Colour: Navy") == ["Material: Cotton.", "Colour: Navy"]
    assert texts("Material: Cotton. Colour: Navy", colon=True) == ["Material:", "Cotton.", "Colour:", "Navy"]
    assert texts("Starts at 10:30 today", colon=True) == ["Starts at 10:30 today"]


def test_lines_false_reads_line_breaks_as_whitespace():
    assert texts("Picks:\n- Boots A\nEnjoy! Bye", lines=False) == ["Picks:\n- Boots A\nEnjoy!", "Bye"]


def test_empty_and_blank_text():
    assert sentence_spans("") == [] and sentence_spans(" \n\n ") == []


def test_streaming_keeps_the_unfinished_rest_verbatim():
    assert split_sentences("Here you go. These fit well! And also") == (
        ["Here you go.", "These fit well!"],
        "And also",
    )
    assert split_sentences("And also ") == ([], "And also ")
    # an abbreviation at the end of the buffer is not taken for a sentence end
    assert split_sentences("Prices start at Rs. ") == ([], "Prices start at Rs. ")
    assert split_sentences("Prices start at Rs. 499. The") == (["Prices start at Rs. 499."], "The")
    # a finished sentence waits for the next one to begin; the caller flushes the rest at the end
    assert split_sentences("Size U.S. ") == ([], "Size U.S. ")
    assert split_sentences("Size U.S. 10. More") == (["Size U.S. 10."], "More")


def test_streaming_is_chunk_independent():
    text = 'Only Rs. 499 today. It holds 1.5 L. "Great!" Size U.S. 10 fits. Bye.'
    for size in (1, 2, 3, 7):
        done, buffer = [], ""
        for k in range(0, len(text), size):
            buffer += text[k : k + size]
            sentences, buffer = split_sentences(buffer)
            done += sentences
        assert done + [buffer.strip()] == texts(text)


def test_capital_starts_ends_a_sentence_at_any_full_stop_before_a_capital():
    text = "Organic: No. Not waterproof. By Trail Co. Made by J. Smith, Rs. 499 only. Size U.S. 10."
    assert texts(text) == [
        "Organic: No. Not waterproof.",
        "By Trail Co. Made by J. Smith, Rs. 499 only.",
        "Size U.S. 10.",
    ]
    assert texts(text, capital_starts=True) == [
        "Organic: No.",
        "Not waterproof.",
        "By Trail Co.",
        "Made by J.",
        "Smith, Rs. 499 only.",
        "Size U.S. 10.",
    ]


def test_the_claim_checker_finds_names_by_the_shared_splitter():
    checker = ClaimChecker({"brand": "Trail"})
    claims = checker.check("Only Rs. 499 Deebabu boots. Trail Co. Made here. Material: Cotton").claims
    names = {c.value for c in claims if c.kind == "name"}
    # a name after "Rs. 499" is not a sentence start; "Made" after "Co." and "Cotton" after ":" are
    assert names == {"name=deebabu", "name=co"}
