"""The chat few-shot templates hand the model the customer's words as written (once JSON-encoded,
by the template, never twice: an apostrophe must not arrive as the text "\\u0027")."""

import pytest

import prompts


@pytest.mark.parametrize("position", ["intro", "outro"])
@pytest.mark.parametrize("kind", ["products", "faq"])
def test_the_question_reaches_the_model_verbatim(position, kind):
    question = 'can\'t find "blue" boots <b> & co'
    messages = prompts.render_messages(f"chat/{position}", system="S", kind=kind, question=question)
    last = messages[-1]
    assert last["role"] == "user" and last["content"].endswith(f'"{question}"')
    assert "\\u0027" not in last["content"] and '\\"' not in last["content"]
