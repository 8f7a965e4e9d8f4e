"""The embedded engine on the real SmolLM2 (loaded once per test run)."""

import threading

import pytest

from assistant.generation import ChatMessage, GenerationRequest, generate

pytestmark = pytest.mark.slow


def req(text: str, n: int = 24, **kw) -> GenerationRequest:
    return GenerationRequest(messages=[ChatMessage(role="user", content=text)], max_new_tokens=n, **kw)


def test_streams_text_in_several_chunks(embedded_generator):
    chunks = list(embedded_generator.stream(req("Name three colours.")))
    assert len(chunks) > 3
    assert "".join(chunks).strip()


@pytest.fixture(scope="module")
def fp32_generator(smollm_dir):
    from assistant.generation.embedded import EmbeddedGenerator

    gen = EmbeddedGenerator(smollm_dir, dtype="float32", batch_wait_ms=100)
    gen.warm_up()
    yield gen
    gen.close()


def test_concurrent_requests_share_a_batch_and_match_solo_output(fp32_generator):
    embedded_generator = fp32_generator
    prompts = ["Say hello.", "Name a fruit.", "What is a tent? Answer briefly.", "Count to five."]
    solo = [generate(embedded_generator, req(p)) for p in prompts]
    out: list[str] = [""] * len(prompts)

    def run(i: int) -> None:
        out[i] = generate(embedded_generator, req(prompts[i]))

    before = embedded_generator.batches_run
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(prompts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert embedded_generator.batches_run - before < len(prompts)  # some requests were batched together
    assert embedded_generator.largest_batch >= 2
    # In float32, greedy decoding in a left-padded batch gives exactly the text of decoding alone
    # (in bf16 rounding differs with the padding, so an early token can flip).
    assert out == solo


def test_stop_strings_and_token_limit(embedded_generator):
    text = generate(
        embedded_generator, req("Count from one to twenty, separated by commas.", n=60, stop=[","])
    )
    assert "," not in text
    short = generate(embedded_generator, req("Write a long story about a dragon.", n=5))
    assert len(embedded_generator.tokenizer(short)["input_ids"]) <= 6


def test_abandoned_stream_frees_the_engine(embedded_generator):
    stream = embedded_generator.stream(req("Write a long story about a dragon.", n=200))
    next(stream)
    stream.close()
    assert generate(embedded_generator, req("Say hi.", n=5)).strip()


def test_a_passed_deadline_drops_the_row_while_its_batch_mate_finishes(embedded_generator):
    """The scope is checked at every token: the long row leaves the batch at its deadline (the
    consumer hears at once, not when the batch ends) and the short one is untouched."""
    import time

    from assistant.generation.admission import RequestScope, bound

    short_text: list[str] = []
    mate = threading.Thread(
        target=lambda: short_text.append(generate(embedded_generator, req("Say hi.", n=40)))
    )
    start = time.perf_counter()
    with bound(RequestScope(deadline_s=0.4)):
        mate.start()
        chunks = list(embedded_generator.stream(req("Write a long story about a dragon.", n=400)))
    elapsed = time.perf_counter() - start
    mate.join(60)
    assert elapsed < 3.0, elapsed  # 400 tokens take well over 5 s on a CPU
    assert len(embedded_generator.tokenizer("".join(chunks))["input_ids"]) < 150
    assert short_text and short_text[0].strip()
