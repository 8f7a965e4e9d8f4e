from assistant.grounding.verify import split_sentences, verify

SOURCES = [
    "Trailhead Waterproof Hiking Boot | Stridewell | footwear | 94.99 USD | olive",
    "waterproof boots under 100",
]


def test_supported_price_kept_unsupported_price_caught():
    assert verify("The Trailhead boot costs 94.99 USD.", SOURCES).ok
    verdict = verify("It is only $79.99 today.", SOURCES)
    assert verdict.unsupported == ["$79.99"]


def test_number_words_links_emails_and_names():
    assert verify("We have two great picks.", SOURCES).unsupported == ["two"]
    assert verify("See www.boots.com or mail help@x.com.", SOURCES).unsupported == [
        "help@x.com",
        "www.boots.com",
    ]
    assert verify("Tidewalk makes great boots.", SOURCES, names=["Tidewalk", "Stridewell"]).unsupported == [
        "Tidewalk"
    ]
    assert verify("Stridewell makes great boots.", SOURCES, names=["Tidewalk", "Stridewell"]).ok


def test_free_is_a_price_but_feel_free_is_an_idiom():
    assert verify("Returns are free.", SOURCES).unsupported == ["free"]
    assert verify("Shipping is toll-free and free of charge.", SOURCES).unsupported == ["free", "free"]
    assert verify("Feel free to reach out to our support team.", SOURCES).ok


def test_proper_nouns_not_in_sources_are_flagged():
    verdict = verify("We ship it to Australia and New Zealand.", SOURCES)
    assert {"Australia", "New", "Zealand"} <= set(verdict.unsupported)


def test_closed_vocabulary_for_intros():
    assert verify("Here are some waterproof boots that might suit you.", SOURCES, closed_vocabulary=True).ok
    assert verify(
        "Here are some coffee mugs you might like.", SOURCES, closed_vocabulary=True
    ).unsupported == ["coffee", "mug"]


def test_repetition_is_rejected():
    assert not verify("A friendly friendly friendly reminder about boots.", SOURCES).ok


def test_sentence_splitting_for_streaming():
    done, rest = split_sentences("Here you go. These fit well! And also")
    assert done == ["Here you go.", "These fit well!"] and rest == "And also"
