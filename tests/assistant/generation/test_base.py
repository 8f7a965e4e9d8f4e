import pytest

from assistant.generation import ChatMessage, GenerationRequest, GeneratorError, create_generator, generate
from assistant.generation.fake import FakeGenerator


def request(text: str = "hi") -> GenerationRequest:
    return GenerationRequest(messages=[ChatMessage(role="user", content=text)])


def test_fake_streams_queued_replies_in_order():
    gen = FakeGenerator(["first reply", "second"], chunk_size=3)
    assert list(gen.stream(request())) == ["fir", "st ", "rep", "ly"]
    assert generate(gen, request("again")) == "second"
    assert generate(gen, request()) == "Here is what I found."
    assert [r.messages[0].content for r in gen.requests] == ["hi", "again", "hi"]


def test_registry_builds_by_name_and_lists_known_engines():
    assert isinstance(create_generator("fake"), FakeGenerator)
    with pytest.raises(
        GeneratorError,
        match="unknown generator engine 'nope'; available: embedded, fake, llamacpp, openai, vllm",
    ):
        create_generator("nope")


def test_request_validation():
    with pytest.raises(ValueError):
        GenerationRequest(messages=[])
    with pytest.raises(ValueError):
        GenerationRequest(messages=[ChatMessage(role="user", content="x")], max_new_tokens=0)


def test_decode_slots_reads_the_admission_limit_then_the_engine_batch():
    """One reader for every caller that writes several drafts at once (copy candidates, assist drafts)."""
    from types import SimpleNamespace

    from assistant.generation.admission import AdmissionGenerator
    from assistant.generation.base import decode_slots

    llamacpp_like = SimpleNamespace(parallel=6)  # llama.cpp names its slots `parallel`
    assert decode_slots(llamacpp_like) == 6
    assert decode_slots(SimpleNamespace(max_batch_size=4, parallel=6)) == 4
    assert decode_slots(AdmissionGenerator(FakeGenerator(), max_active=3, max_queue=1)) == 3
    assert decode_slots(FakeGenerator()) is None
