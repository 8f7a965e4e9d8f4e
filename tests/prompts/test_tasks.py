"""The fine-tuned tasks' messages: one builder for training data and serving, read from templates."""

from types import SimpleNamespace

import prompts
from prompts.tasks import (
    answer_facts,
    copy_system_prompt,
    copy_user_prompt,
    cs_system_prompt,
    example_id,
    product_attributes,
)


def test_task_prompts_come_from_the_templates_and_keep_shop_names_verbatim():
    system = cs_system_prompt("Harbor & Pine")
    assert system.startswith("You are the customer-service assistant of Harbor & Pine.")  # no HTML escaping
    assert "{{Placeholder}}" in system  # the literal the model learns to write for shop-specific details
    assert copy_system_prompt("Harbor & Pine").startswith("You write product descriptions for Harbor & Pine.")


def test_copy_user_prompt_lists_the_attributes_as_lines_in_order():
    text = copy_user_prompt({"Title": "Trail Boot", "Brand": "Ridgeback", "Price": "89.99 USD"})
    assert text == (
        "Write a product description from these attributes.\n\nTitle: Trail Boot\nBrand: Ridgeback\nPrice: 89.99 USD"
    )


def test_product_attributes_skip_empty_fields_and_fold_spec_tags():
    product = SimpleNamespace(
        title="Trail Boot",
        brand="Ridgeback",
        category="Boots",
        color="",
        material="leather",
        price=89.99,
        currency="USD",
        tags=["Waterproof: yes", "hiking", "Material: leather"],
    )
    attrs = product_attributes(product)
    assert attrs == {
        "Title": "Trail Boot",
        "Brand": "Ridgeback",
        "Category": "Boots",
        "Material": "leather",
        "Price": "89.99 USD",
        "Waterproof": "yes",
        "Tags": "hiking",
    }


def test_example_ids_are_stable_and_ignore_surrounding_space():
    assert example_id("cs", "q", "a") == example_id("cs", " q ", "a\n")
    assert example_id("cs", "q", "a") != example_id("copy", "q", "a")
    assert len(example_id("x")) == 16


def test_templates_are_grouped_by_task():
    names = prompts.names()
    assert {"chat/refuse", "copy/template", "assist/reply", "faq/questions.json", "tasks/cs_system"} <= set(
        names
    )
    assert all("/" in n for n in names)


def test_a_superlative_gets_its_answer_line_and_a_comparison_leads_with_the_cheaper():
    """The records decide the superlative (ties kept); a comparison keeps both lines, cheaper first."""
    rows = [
        SimpleNamespace(title="Mid", price=50.0, currency="USD", rating=4.9, in_stock=True),
        SimpleNamespace(title="Unpriced", price=None, currency="USD", rating=None, in_stock=True),
        SimpleNamespace(title="Low", price=20.0, currency="USD", rating=4.1, in_stock=False),
        SimpleNamespace(title="High", price=90.0, currency="USD", rating=4.9, in_stock=True),
    ]
    assert answer_facts("best:cheapest", rows) == ["Low: price 20.00 USD"]
    assert answer_facts("best:priciest", rows) == ["High: price 90.00 USD"]
    assert answer_facts("best:rating", rows) == ["Mid: rated 4.9 out of 5", "High: rated 4.9 out of 5"]
    assert answer_facts("best:cheapest", rows[1:2]) == ["Unpriced: price not listed"]
    assert [f.split(":")[0] for f in answer_facts("compare", [rows[3], rows[2]])] == ["Low", "High"]
    assert [f.split(":")[0] for f in answer_facts("list", rows)][1:] == ["Mid", "Unpriced", "Low", "High"]
