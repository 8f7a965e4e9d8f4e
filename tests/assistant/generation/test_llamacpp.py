"""The llama.cpp engine: streaming, the shipped adapters applied per request, grammars, deadlines."""

from __future__ import annotations

import re
import threading
import time

import pytest

from assistant.generation.base import ChatMessage, GenerationRequest, GeneratorError, generate
from assistant.generation.llamacpp import LlamaCppGenerator

pytest.importorskip("xllamacpp")
pytestmark = pytest.mark.slow

ROWS = [
    {"n": 1, "title": "Switchback Waterproof Trail Boot", "color": "grey", "price": "129"},
    {"n": 2, "title": "Frostline Waterproof Snow Boot", "color": "black", "price": "149"},
]


def req(text: str, n: int = 40, **kw) -> GenerationRequest:
    return GenerationRequest(messages=[ChatMessage(role="user", content=text)], max_new_tokens=n, **kw)


def rewrite_request(message: str, **kw) -> GenerationRequest:
    from prompts.tasks import rewrite_messages

    msgs = rewrite_messages(ROWS, "waterproof boots", message)
    return GenerationRequest(messages=[ChatMessage(**m) for m in msgs], max_new_tokens=30, **kw)


def test_streams_text_token_by_token(llamacpp_generator):
    chunks = list(llamacpp_generator.stream(req("Write two sentences about hiking boots.")))
    assert len(chunks) > 5 and "".join(chunks).strip()


def test_an_adapter_under_its_grammar_ends_where_it_would_alone(llamacpp_generator):
    """Once the grammar is complete only an end-of-turn token may follow, so the adapter's line ends
    where it would alone instead of running on to the token limit ("best measure=ratingfirstsum...")."""
    from assistant.chat.understanding import INTENT_PATTERN

    for message in ("which of those has the best rating?", "cheaper ones?"):
        free = generate(llamacpp_generator, rewrite_request(message, adapter="rewrite-lora")).strip()
        bound = rewrite_request(message, adapter="rewrite-lora", pattern=INTENT_PATTERN)
        assert generate(llamacpp_generator, bound).strip() == free


def test_the_task_adapter_is_applied_per_request(llamacpp_generator):
    """The converted rewrite adapter writes intent lines (a wrongly converted one writes noise); the
    same prompt without it, in the same engine, does not."""
    from assistant.chat.understanding import INTENT_PATTERN

    for message in ("cheaper ones?", "is the second one in stock?", "in blue?"):
        line = generate(llamacpp_generator, rewrite_request(message, adapter="rewrite-lora")).strip()
        assert re.fullmatch(INTENT_PATTERN, line), (message, line)
    base = generate(llamacpp_generator, rewrite_request("cheaper ones?")).strip()
    assert not re.fullmatch(INTENT_PATTERN, base), base


def test_a_pattern_is_enforced_by_the_grammar(llamacpp_generator):
    from assistant.chat.understanding import INTENT_PATTERN

    line = generate(llamacpp_generator, req("Tell me about boots.", pattern=INTENT_PATTERN)).strip()
    assert re.fullmatch(INTENT_PATTERN, line), line


def test_unknown_adapter_says_which_are_loaded(llamacpp_generator):
    with pytest.raises(GeneratorError, match="not loaded.*rewrite-lora"):
        generate(llamacpp_generator, req("Hi", adapter="nope"))


def test_abandoned_stream_and_deadline_stop_generation(llamacpp_generator):
    from assistant.generation.admission import RequestScope, bound

    stream = llamacpp_generator.stream(req("Write a long story about a dragon.", n=300))
    next(stream)
    stream.close()
    assert generate(llamacpp_generator, req("Say hi.", n=5)).strip()
    start = time.perf_counter()
    with bound(RequestScope(deadline_s=0.3)):
        text = generate(llamacpp_generator, req("Write a long story about a dragon.", n=2000))
    assert time.perf_counter() - start < 3.0
    assert len(text.split()) < 400


def test_concurrent_requests_all_complete_with_their_own_adapter(llamacpp_generator):
    from assistant.chat.understanding import INTENT_PATTERN

    results: dict[int, str] = {}

    def run(i: int) -> None:
        request = rewrite_request("cheaper ones?", adapter="rewrite-lora") if i % 2 else req("Say hi.", n=8)
        results[i] = generate(llamacpp_generator, request).strip()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 6 and all(results.values())
    assert all(re.fullmatch(INTENT_PATTERN, results[i]) for i in (1, 3, 5))


def test_missing_model_file_is_a_clear_error(tmp_path):
    gen = LlamaCppGenerator(tmp_path / "none.gguf")
    with pytest.raises(GeneratorError, match="no GGUF model at .*generator.gguf"):
        gen.warm_up()


def test_engine_from_settings_loads_the_adapters_for_its_base(settings):
    from assistant.generation.factory import available_generators, create_generator

    assert "llamacpp" in available_generators()
    gen = create_generator("llamacpp", settings=settings)
    assert isinstance(gen, LlamaCppGenerator)
    assert set(gen._adapter_dirs) >= {"rewrite-lora", "copy-lora", "answer-lora", "draft-lora"}
    assert gen.parallel == settings.generator.max_batch_size


def test_no_repeat_ngram_keeps_a_looping_prompt_from_repeating(llamacpp_generator):
    """The DRY sampler stands in for the n-gram ban: a prompt that makes the base model loop."""

    def repeated_4grams(text: str) -> int:
        words = text.split()
        grams = [tuple(words[i : i + 4]) for i in range(len(words) - 3)]
        return len(grams) - len(set(grams))

    prompt = "List twenty waterproof boots, one per line, each as 'waterproof boot'."
    free = generate(llamacpp_generator, req(prompt, n=80))
    banned = generate(llamacpp_generator, req(prompt, n=80, no_repeat_ngram=4))
    assert repeated_4grams(free) >= 5, free  # the base model loops on this prompt (18 measured)
    assert repeated_4grams(banned) <= 1, banned


def test_other_patterns_hold_too(llamacpp_generator):
    """Classes, bounded repeats and alternation, as GBNF, on free text that would not match alone."""
    for pattern in (r"(yes|no), [0-9]{2} items", r"[A-Z][a-z]{2,8}( [a-z]{1,8}){0,3}\."):
        line = generate(llamacpp_generator, req("Tell me about boots.", pattern=pattern)).strip()
        assert re.fullmatch(pattern, line), (pattern, line)


def test_penalty_windows_follow_repeat_window():
    """llama.cpp's sampler sees the prompt too: its windows are the reply's length, or shorter."""
    engine = LlamaCppGenerator("not-loaded.gguf")  # _body needs no model
    body = engine._body(req("x", n=80, repetition_penalty=1.1, no_repeat_ngram=4))
    assert body["repeat_last_n"] == body["dry_penalty_last_n"] == 80 and body["dry_allowed_length"] == 3
    short = engine._body(req("x", n=80, repetition_penalty=1.1, no_repeat_ngram=4, repeat_window=24))
    assert short["repeat_last_n"] == short["dry_penalty_last_n"] == 24
    assert "repeat_last_n" not in engine._body(req("x")) and "dry_multiplier" not in engine._body(req("x"))


def test_the_build_says_which_vector_code_it_runs(llamacpp_generator):
    """The bench labels rows with it: a native build here says AVX512, the prebuilt wheel AVX2."""
    import xllamacpp

    build = llamacpp_generator.build
    assert build in {"AVX512", "AVX2", "AVX", "NEON", "generic"}
    assert build == "generic" or f"{build} = 1" in xllamacpp.get_system_info()
