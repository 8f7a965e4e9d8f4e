"""Copy targets a shop would publish (issue 16): Flipkart page boilerplate is cut before the claim
checker's sentence filter, key attributes the prose leaves out are added as checked sentences, and the
held-out products of the copy eval do not move when the cleaning changes. No model, no ../shared."""

import pytest

from assistant.grounding.claims import ClaimChecker, key_attributes, mentions
from finetune.copy_targets import attribute_complete, attribute_sentences, fact_kind, marketplace_prose

# Shapes of real rows of the Flipkart sample (lower-cased as the sample is).
KEY_FEATURES_PRICE_SPECS = (
    "key features of souminie pure cotton black full coverage bra flexi, cozy & soft fit,souminie pure "
    "cotton black full coverage bra price: rs. 250 souminie cotton soft-fit non-padded bra has been "
    "specially crafted to provide you more coverage & support. (1) pure cotton soft-fit bra (2) "
    "non-padded & wire free cups,specifications of souminie pure cotton black full coverage bra general "
    "details brand color black pattern solid ideal for women's occasion casual"
)
BUY_ONLINE = (
    "zoop c3030pp05 analog watch  - for boys, girls - buy zoop c3030pp05 analog watch  - for boys, girls  "
    "c3030pp05 online at rs.650 in india only at flipkart.com. black strap, plastic case, water "
    "resistant, contemporary dial, buckle clasp - great discounts, only genuine products, 30 day "
    "replacement guarantee, free shipping. cash on delivery!"
)
APPAREL_BUY = (
    "schwof party full sleeve solid women's top - buy black schwof party full sleeve solid women's top "
    "for only rs. 999 online in india. shop online for apparels. huge collection of branded clothes "
    "only at flipkart.com"
)
REPEATED_PARAGRAPH = (
    "rorlig rr-030 essentials analog watch  - for men, boys\n                         price: rs. 399\n"
    "\t\t\t\t\n\t\t\tyou will be bombarded with complimenting glances as you walk out wearing this watch. "
    "this stylish accessory is a fine pick to flaunt with casuals as well as with formals too.\n"
    "you will be bombarded with complimenting glances as you walk out wearing this watch. this stylish "
    "accessory is a fine pick to flaunt with casuals as well as with formals too."
)
FIELD_RUNS = (
    "sheffield classic hand-held vacuum cleaner (orange) price: rs. 1,800 vaccum cleaner cum blower, to "
    "keep your house safe and clean. *wattage 800w, *suction feature *dust capacity: 0.7 l *vaccum: > = "
    "11.5 kpa *noise: was this product information helpful? yes no thanks for your vote! please write "
    "your feedback before submitting. skip specifications of sheffield classic hand-held vacuum cleaner"
)


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        (
            KEY_FEATURES_PRICE_SPECS,
            "Souminie cotton soft-fit non-padded bra has been specially crafted to provide you more "
            "coverage & support.",
            ["key features", "price", "rs.", "specifications", "(1)", "wire free cups"],
        ),
        (BUY_ONLINE, "", ["buy", "flipkart", "genuine", "cash on delivery", "black strap"]),
        (APPAREL_BUY, "", ["buy", "rs.", "shop online"]),
        (
            REPEATED_PARAGRAPH,
            "You will be bombarded with complimenting glances as you walk out wearing this watch. This "
            "stylish accessory is a fine pick to flaunt with casuals as well as with formals too.",
            ["price", "rr-030"],
        ),
        (
            FIELD_RUNS,
            "Vaccum cleaner cum blower, to keep your house safe and clean.",
            ["dust capacity", "helpful", "feedback", "specifications", "1,800"],
        ),
    ],
)
def test_marketplace_prose_keeps_the_merchant_prose_alone(text, kept, gone):
    prose = marketplace_prose(text)
    assert prose == kept
    for fragment in gone:
        assert fragment not in prose.lower()


def test_plain_shop_prose_is_left_as_it_is():
    text = "A sturdy brown leather boot for long days on rocky trails. The cushioned collar keeps you comfortable."
    assert marketplace_prose(text) == text


WATCH = {
    "Title": "cartier w6701005 analog watch - for boys, men",
    "Category": "watches",
    "Price": "201000 INR",
    "Chronograph": "No",
    "Date display": "Yes, Day And Date Display",
    "Luminous": "Yes",
    "Type": "Analog",
    "Ideal for": "Boys, Men",
}
SOAP = {
    "Title": "medimix transparent with glycerine and lakshadi",
    "Brand": "medimix",
    "Category": "beauty and personal care",
    "Colour": "Brown",
    "Price": "129 INR",
    "Skin type": "Dry Skin",
    "Soap application area": "Body",
    "Quantity": "125 g",
    "Ideal for": "Men, Women",
}


@pytest.mark.parametrize("attributes", [WATCH, SOAP])
@pytest.mark.parametrize(
    "prose", ["", "A bar made for a gentle daily wash that leaves the skin feeling fresh."]
)
def test_attribute_complete_targets_pass_the_checker_and_mention_every_key_attribute(attributes, prose):
    checker = ClaimChecker(attributes)
    target = attribute_complete("P1", prose, attributes)
    check = checker.check(target)
    assert not check.unsupported, check.unsupported
    assert check.coverage == 1.0 and not check.missing
    if prose:
        assert target.startswith(prose)  # the merchant's prose leads; the facts follow its first sentence
    for key, value in key_attributes(attributes).items():
        assert mentions(target, key, value)
    assert "Price" not in target and "201000" not in target and ":" not in target


def test_phrasings_vary_by_product_and_are_deterministic():
    texts = {" ".join(attribute_sentences(f"P{i}", SOAP)) for i in range(12)}
    assert len(texts) >= 6  # many phrasings, not one template
    assert attribute_sentences("P3", SOAP) == attribute_sentences("P3", SOAP)
    assert fact_kind("Luminous", "Yes") == ("yes_adj", "luminous")
    assert fact_kind("Chronograph", "No") == ("no", "chronograph")
    assert fact_kind("Date display", "Yes, Day And Date Display") == ("yes", "day and date display")
    assert fact_kind("Ideal for", "Baby Girl's")[0] == "ideal_for_possessive"


def test_a_claim_the_attributes_lack_never_gets_into_a_target():
    text = "It comes in red and blue as well. A soft bar for a gentle daily wash that leaves skin fresh."
    target = attribute_complete("P1", text, SOAP)
    assert "red" not in target and not ClaimChecker(SOAP).check(target).unsupported


CATALOGUE_HEADER = "id,title,brand,category,price,color,material,tags,description\n"
BOILERPLATE = "{t} - buy {t} for only rs. 49 online in india. shop online for apparels. only at flipkart.com"


def _catalogue(tmp_path, n=40):
    rows = []
    for i in range(n):
        title = f"aurel cotton tee {i}"
        if i % 8 == 0:  # prose the cleaning keeps, too few attributes to write from without it
            prose = (
                "A relaxed tee that is ready for slow weekends, long walks and easy evenings with friends, "
                "at home or away from it all."
            )
            rows.append(f'T{i},{title},,,49,,,,"{prose}"\n')
            continue
        if i % 4 == 0:  # prose the cleaning keeps
            desc = (
                "A relaxed tee cut from soft cotton, ready for slow weekends, long walks and easy "
                "evenings with friends at home."
            )
        elif i % 4 == 1:  # only the page's boilerplate, but enough attributes
            desc = BOILERPLATE.format(t=title)
        elif i % 4 == 2:  # no description and too few attributes: never an example
            rows.append(f"T{i},{title},,,49,,,,\n")
            continue
        else:  # only boilerplate and too few key attributes: skipped
            rows.append(f'T{i},{title},,,49,,,,"{BOILERPLATE.format(t=title)}"\n')
            continue
        rows.append(
            f'T{i},{title},aurel,clothing,49,navy,cotton,"occasion: casual;pattern: solid","{desc}"\n'
        )
    path = tmp_path / "products.csv"
    path.write_text(CATALOGUE_HEADER + "".join(rows))
    return path


def test_boilerplate_only_products_become_examples_from_their_attributes(tmp_path):
    """Boilerplate only but five key attributes: a hashed share (PROSE_FREE_SHARE) of such products
    are examples rendered from their attributes, the rest skipped and counted, so prose stays the
    majority of the targets (attribute-only targets teach a monotone style)."""
    from finetune.data import PROSE_FREE_SHARE, _hash_share, build_copy

    data = build_copy([_catalogue(tmp_path)], "Harbor & Pine")
    ids = {e.meta["product_id"] for e in data.examples}
    prose_free = {f"T{i}" for i in range(1, 40, 4)}
    chosen = {p for p in prose_free if _hash_share(f"prose-free:{p}", PROSE_FREE_SHARE)}
    assert chosen and chosen != prose_free  # the fixture has some of each
    assert ids & prose_free == chosen
    assert data.skipped["too little prose (outside the attribute-only share)"] == len(prose_free - chosen)
    assert not ids & {f"T{i}" for i in range(2, 40, 4)} and not ids & {f"T{i}" for i in range(3, 40, 4)}
    assert data.skipped["no description"] == 10 and data.skipped["too little supported text"] == 10
    assert data.skipped["prose from attributes"] == len(chosen)
    for example in data.examples:
        assert "flipkart" not in example.assistant and "rs." not in example.assistant
        assert "Form: prose" in example.user


def test_the_held_out_products_do_not_move_with_the_cleaning(tmp_path, monkeypatch):
    """Held out = the products whose copy example id is on the validation side (kept by the cleaning
    or not) + those that can never be examples; a cleaning that keeps less changes no membership."""
    import finetune.copy_targets
    from finetune.copy_eval import heldout_ids
    from finetune.data import (
        build_copy,
        can_be_copy_example,
        copy_example_id,
        in_validation,
        load_copy_products,
    )

    path = _catalogue(tmp_path)
    products = load_copy_products([path])
    before = heldout_ids([path], "Harbor & Pine", val_fraction=0.3)
    trained_before = {e.meta["product_id"] for e in build_copy([path], "S").split(0.3)[0]}

    monkeypatch.setattr(finetune.copy_targets, "marketplace_prose", lambda text, title="": "")
    after = heldout_ids([path], "Harbor & Pine", val_fraction=0.3)
    built = build_copy([path], "S")
    trained_after = {e.meta["product_id"] for e in built.split(0.3)[0]}

    assert before == after
    assert trained_after != trained_before  # the cleaning did change what is trained on
    assert not before & (trained_before | trained_after)
    expected = {
        p.id for p in products if not can_be_copy_example(p) or in_validation(copy_example_id(p), 0.3)
    }
    assert before == expected and {f"T{i}" for i in range(2, 40, 4)} <= before
    assert any(in_validation(copy_example_id(p), 0.3) for p in products)
    assert {e.id for e in built.examples} <= {copy_example_id(p) for p in products}
