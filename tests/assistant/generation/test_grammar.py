"""Regular expressions become GBNF that llama.cpp enforces; what a grammar cannot enforce is refused.

The engine-level check (the model's text matches the pattern) is in test_llamacpp.py; these pin the
conversion itself, construct by construct."""

from __future__ import annotations

import pytest

from assistant.errors import BadInput
from assistant.generation.grammar import GrammarError, regex_to_gbnf


@pytest.mark.parametrize(
    ("pattern", "rule"),
    [
        ("abc", '"abc"'),
        ('say "hi"\\\\', '"say \\"hi\\"\\\\"'),
        ("(yes|no)", '(("yes" | "no"))'),
        ("[a-c_.-]{1,3}", "([a-c_.\\-]){1,3}"),
        ("x[^0-9]?", '"x" ([^0-9])?'),
        (r"\d+ \w*", '([0-9])+ " " ([a-zA-Z0-9_])*'),
        ("a{2}b{3,}", '("a"){2} ("b"){3,}'),
        ("^.$", "[^\\n]"),
        ("line\n", '"line\\n"'),
    ],
)
def test_each_construct_converts(pattern: str, rule: str) -> None:
    assert regex_to_gbnf(pattern) == f"root ::= {rule}\n"


def test_the_intent_pattern_converts_whole() -> None:
    from assistant.chat.understanding import INTENT_PATTERN

    grammar = regex_to_gbnf(INTENT_PATTERN)
    assert grammar.startswith('root ::= (("search" | "refine"') and grammar.rstrip().endswith("{0,4}")


@pytest.mark.parametrize(
    ("pattern", "named"),
    [("a(?=b)", "ASSERT"), (r"(a)\1", "GROUPREF"), ("(?i:a)", "inline flags"), ("a(", "not a regular")],
)
def test_what_a_grammar_cannot_enforce_is_refused_by_name(pattern: str, named: str) -> None:
    with pytest.raises(GrammarError, match=named) as caught:
        regex_to_gbnf(pattern)
    assert isinstance(caught.value, BadInput)
