"""The embedded engine's token choice: repetition penalty and n-gram blocking over the row's own
tokens, checked against transformers' logits processors (no model is loaded, except in the one
slow test that uses the shared SmolLM2 fixture)."""

import pytest
import torch

from assistant.generation import ChatMessage, GenerationRequest, generate
from assistant.generation.embedded import EmbeddedGenerator

ENGINE = EmbeddedGenerator("not-loaded")  # _choose needs no model


def req(**kw) -> GenerationRequest:
    return GenerationRequest(messages=[ChatMessage(role="user", content="x")], **kw)


def test_the_penalty_divides_positive_and_multiplies_negative_logits_of_generated_tokens_only():
    # token 0 (generated) 3.0 -> 1.5 falls below token 1's 2.0
    assert ENGINE._choose(torch.tensor([3.0, 2.0, 0.0]), req(repetition_penalty=2.0), None, [0]) == 1
    # negative: -1.0 -> -2.0 (multiplied) falls below -1.5; dividing it would have raised it to -0.5
    assert ENGINE._choose(torch.tensor([-1.0, -1.5]), req(repetition_penalty=2.0), None, [0]) == 1
    # only generated tokens are penalised: token 1 was not, so token 0 keeps its lead over it
    assert ENGINE._choose(torch.tensor([3.0, 2.0, 0.0]), req(repetition_penalty=2.0), None, [2]) == 0
    # off by default, and nothing generated yet means nothing to penalise
    assert ENGINE._choose(torch.tensor([3.0, 2.0]), req(), None, [0]) == 0
    assert ENGINE._choose(torch.tensor([3.0, 2.0]), req(repetition_penalty=2.0), None, []) == 0


def test_an_ngram_already_in_the_row_is_never_completed_again():
    logits = torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 9.0])
    generated = [5, 6, 7, 5, 6]  # "5 6 7" was written; after "5 6" token 7 would repeat it
    assert ENGINE._choose(logits, req(), None, generated) == 7
    assert ENGINE._choose(logits, req(no_repeat_ngram=3), None, generated) == 6
    assert ENGINE._choose(logits, req(no_repeat_ngram=4), None, generated) == 7  # "6 7 5 6" + 7 is new
    assert ENGINE._choose(logits, req(no_repeat_ngram=1), None, generated) == 0  # 5, 6, 7 all banned
    assert ENGINE._choose(logits, req(no_repeat_ngram=3), None, [5, 6]) == 7  # nothing to repeat yet


def test_a_repeat_window_limits_both_to_the_last_tokens():
    logits = torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 9.0])
    generated = [5, 6, 7, 1, 2, 3, 5, 6]  # "5 6 7" is 6 tokens back
    assert ENGINE._choose(logits, req(no_repeat_ngram=3), None, generated) == 6
    assert ENGINE._choose(logits, req(no_repeat_ngram=3, repeat_window=5), None, generated) == 7
    scores = torch.tensor([3.0, 2.0, 0.0])
    assert ENGINE._choose(scores, req(repetition_penalty=2.0), None, [0, 2, 2]) == 1
    assert ENGINE._choose(scores, req(repetition_penalty=2.0, repeat_window=2), None, [0, 2, 2]) == 0


def test_blocking_holds_when_sampling_too():
    logits = torch.tensor([0.0, 0.0, 8.0])  # token 2 would be drawn almost always
    gen = torch.Generator().manual_seed(0)
    draws = {
        ENGINE._choose(logits, req(temperature=1.0, no_repeat_ngram=2), gen, [1, 2, 1]) for _ in range(50)
    }
    assert 2 not in draws and draws


def test_the_batch_logits_are_left_alone():
    batch = torch.tensor([[3.0, 2.0, 1.0], [3.0, 2.0, 1.0]])
    ENGINE._choose(batch[0], req(repetition_penalty=1.5, no_repeat_ngram=1), None, [0, 1])
    assert torch.equal(batch, torch.tensor([[3.0, 2.0, 1.0], [3.0, 2.0, 1.0]]))


@pytest.mark.parametrize("seed", range(20))
def test_greedy_choice_matches_transformers_processors(seed):
    """The same adjustments as `RepetitionPenaltyLogitsProcessor` and `NoRepeatNGramLogitsProcessor`
    applied to the row's generated ids, on random logits and loops of a small vocabulary."""
    from transformers.generation.logits_process import (
        NoRepeatNGramLogitsProcessor,
        RepetitionPenaltyLogitsProcessor,
    )

    rng = torch.Generator().manual_seed(seed)
    vocab = 12
    logits = torch.randn(vocab, generator=rng) * 3
    generated = torch.randint(0, 4, (int(torch.randint(1, 30, (1,), generator=rng)),), generator=rng).tolist()
    penalty = 1.0 + float(torch.rand(1, generator=rng))
    n = int(torch.randint(0, 5, (1,), generator=rng))
    ids = torch.tensor([generated])
    expected = RepetitionPenaltyLogitsProcessor(penalty)(ids, logits.clone().unsqueeze(0))
    if n:
        expected = NoRepeatNGramLogitsProcessor(n)(ids, expected)
    got = ENGINE._choose(logits, req(repetition_penalty=penalty, no_repeat_ngram=n), None, generated)
    assert got == int(torch.argmax(expected[0]))
    again = ENGINE._choose(logits, req(repetition_penalty=penalty, no_repeat_ngram=n), None, generated)
    assert again == got  # greedy is reproducible


@pytest.mark.slow
def test_the_real_model_never_repeats_a_blocked_ngram(embedded_generator):
    prompt = "Write the word 'sale' twenty times in a row."
    request = req(max_new_tokens=40, no_repeat_ngram=2, repetition_penalty=1.2)
    request.messages[0].content = prompt
    text = generate(embedded_generator, request)
    ids = embedded_generator.tokenizer(text, add_special_tokens=False)["input_ids"]
    pairs = list(zip(ids, ids[1:], strict=False))
    # re-tokenizing the decoded text can merge tokens differently; allow for that, but no loop
    assert len(set(pairs)) >= len(pairs) - 1, text
