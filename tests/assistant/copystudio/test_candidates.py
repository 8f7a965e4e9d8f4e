"""Decoding against degeneration in the copy service: penalties on every request, several candidates
per attempt (the first greedy, the others sampled with their own seeds, written at once), the best
kept by the checker and the repetition score, spares used for repair, the retry loop unchanged."""

import threading

import pytest

from assistant.config import CopySettings
from assistant.copystudio.phrasing import stock_share
from assistant.copystudio.protocol import CopyRequest
from assistant.copystudio.service import CopyService, repeats_ngram, repetition
from assistant.generation.admission import RequestScope, bound, current_scope
from assistant.generation.base import GeneratorError
from assistant.generation.fake import FakeGenerator

GOOD = "A rugged brown hiking boot from Ridgeback Trail Co., ready for long days on rocky trails and wet meadows alike."
BAD = (
    "A black leather boot with a 2-year warranty. It keeps feet comfortable on long hikes through the hills."
)


def service_with(texts, demo_products, **settings):
    """A service whose fake model answers by the request's seed (candidates run in threads, so a
    queue's order would be a race)."""

    def reply(request):
        text = texts[request.seed]
        if isinstance(text, Exception):
            raise text
        return text

    gen = FakeGenerator(default=reply)
    settings.setdefault("candidates", 1)  # one scripted draft per attempt unless a test asks for more
    service = CopyService(
        gen, demo_products, settings=CopySettings(**settings), shop_name="Harbor & Pine", model_id="fake"
    )
    return service, gen


def run(service):
    return service.run(CopyRequest(product_id="HP-1001"))


def test_every_draft_request_carries_the_anti_repetition_settings(demo_products):
    service, gen = service_with({0: GOOD}, demo_products)
    result = run(service)
    assert len(gen.requests) == 1 and result.candidates == result.attempts == 1
    request = gen.requests[0]
    assert (request.repetition_penalty, request.no_repeat_ngram) == (1.1, 4)
    assert (request.temperature, request.seed) == (0.0, 0)  # the single draft is greedy, as before
    service, gen = service_with({0: GOOD}, demo_products, repetition_penalty=1.0, no_repeat_ngram=0)
    run(service)
    assert (gen.requests[0].repetition_penalty, gen.requests[0].no_repeat_ngram) == (1.0, 0)


def test_the_best_candidate_is_kept_the_first_greedy_the_others_sampled_with_their_own_seeds(demo_products):
    service, gen = service_with({0: BAD, 1001: GOOD, 1002: BAD}, demo_products, candidates=3)
    result = run(service)
    assert result.source == "model" and result.attempts == 1 and result.candidates == 3
    assert result.drafts[0].text == GOOD and result.drafts[0].candidates == 3
    assert result.text.startswith(GOOD) and result.unsupported == []
    sent = sorted(gen.requests, key=lambda r: r.seed)
    assert [(r.seed, r.temperature) for r in sent] == [(0, 0.0), (1001, 1.0), (1002, 1.0)]
    assert all(r.messages == sent[0].messages for r in sent)


def test_a_tie_keeps_the_greedy_candidate(demo_products):
    twin = GOOD.replace("rugged", "sturdy")
    service, _ = service_with({0: GOOD, 1001: twin}, demo_products, candidates=2)
    assert run(service).drafts[0].text == GOOD
    service, _ = service_with({0: twin, 1001: GOOD}, demo_products, candidates=2)
    assert run(service).drafts[0].text == twin


def test_among_passing_candidates_the_one_that_repeats_itself_less_wins(demo_products):
    head = "A rugged brown hiking boot from Ridgeback Trail Co., ready for long days on rocky trails. "
    loopy = head + "Ready for long days in wet meadows, it keeps you going."
    fresh = head + "Built for wet meadows and muddy paths, it keeps you going."
    assert len(loopy.split()) == len(fresh.split()) and repetition(loopy) > repetition(fresh) == 0
    service, _ = service_with({0: loopy, 1001: fresh}, demo_products, candidates=2)
    result = run(service)
    assert result.source == "model" and result.drafts[0].text == fresh
    assert result.drafts[0].repetition == 0.0


def test_among_passing_candidates_the_one_in_fewer_stock_phrasings_wins(demo_products):
    stock = "A welcome addition to the footwear shelf. It comes in brown. It is made by Ridgeback Trail Co. for hikers."
    own = "Ridgeback Trail Co. built this brown footwear for rocky trails, wet meadows and muddy paths on long, cold days out."
    assert len(stock.split()) == len(own.split()) and stock_share(stock) > stock_share(own)
    service, _ = service_with({0: stock, 1001: own}, demo_products, candidates=2)
    assert run(service).drafts[0].text == own
    service, _ = service_with({0: stock, 1001: own}, demo_products, candidates=2, stock_penalty=0.0)
    assert run(service).drafts[0].text == stock  # a tie without the penalty: the greedy one


def test_when_no_candidate_passes_the_retry_is_told_why_and_writes_candidates_again(demo_products):
    texts = {0: BAD, 1001: BAD, 1: BAD, 2001: GOOD}
    service, gen = service_with(texts, demo_products, candidates=2, max_attempts=2)
    result = run(service)
    assert result.source == "model" and result.attempts == 2 and result.candidates == 4
    retries = [r for r in gen.requests if r.seed in (1, 2001)]
    assert len(retries) == 2 and retries[0].messages == retries[1].messages
    assert '"black"' in retries[0].messages[-1].content  # the feedback names the unsupported claims
    assert {r.temperature for r in retries} == {0.0, 1.0}


def test_repair_takes_the_longest_clean_text_of_all_candidates(demo_products):
    short = "A sturdy boot for the hills, in black."  # one unsupported claim: ranks first, repairs to nothing
    service, _ = service_with({0: short, 1001: BAD}, demo_products, candidates=2, max_attempts=1)
    result = run(service)
    assert result.drafts[0].text == short  # fewer unsupported claims: the attempt's draft
    assert result.source == "repaired"
    assert result.text.startswith("It keeps feet comfortable on long hikes through the hills.")


def test_candidates_are_requested_together_so_the_engine_can_batch_them(demo_products):
    arrived = threading.Barrier(3, timeout=5)  # breaks unless all three are in flight at once

    def reply(request):
        arrived.wait()
        return GOOD

    service = CopyService(FakeGenerator(default=reply), demo_products, settings=CopySettings(candidates=3))
    assert run(service).candidates == 3


def test_the_request_scope_goes_with_the_candidates(demo_products):
    seen = []

    def reply(request):
        seen.append(current_scope())
        return GOOD

    service = CopyService(FakeGenerator(default=reply), demo_products, settings=CopySettings(candidates=3))
    scope = RequestScope(deadline_s=60)
    with bound(scope):
        run(service)
    assert seen == [scope, scope, scope]


def test_a_failed_sampled_candidate_is_left_out_a_failed_greedy_one_means_the_template(demo_products):
    down = GeneratorError("the endpoint is down")
    service, _ = service_with({0: GOOD, 1001: down, 1002: BAD}, demo_products, candidates=3)
    result = run(service)
    assert result.source == "model" and result.candidates == 2 and result.model_unavailable is None
    service, _ = service_with({0: down, 1001: GOOD}, demo_products, candidates=2)
    result = run(service)
    assert result.source == "template" and result.model_unavailable and result.candidates == 0


def test_candidates_are_capped_at_what_the_engine_decodes_in_one_batch(demo_products):
    class SmallBatches(FakeGenerator):
        max_batch_size = 2

    gen = SmallBatches(default=GOOD)
    service = CopyService(gen, demo_products, settings=CopySettings(candidates=4))
    assert service.candidates() == 2 and run(service).candidates == 2 and len(gen.requests) == 2


def test_with_settings_shares_the_model_and_catalogue(demo_products):
    built = []

    def factory():
        built.append(1)
        return FakeGenerator(default=GOOD)

    service = CopyService(factory, demo_products, settings=CopySettings(candidates=1))
    three = service.with_settings(candidates=3)
    assert three.settings.candidates == 3 and service.settings.candidates == 1
    assert three.generator is service.generator and three.products is service.products and built == [1]
    with pytest.raises(ValueError):
        service.with_settings(candidates=0)


def test_repetition_measures_repeated_word_3_and_4_grams():
    assert repetition("A warm boot for cold days and long walks.") == 0.0
    looping = "buy it now buy it now buy it now"
    assert repetition(looping) > 0.5 and repeats_ngram(looping)
    assert not repeats_ngram("the boot is warm and the boot is dry")  # a repeated 3-gram only
    assert repeats_ngram("the boot is warm and the boot is warm")
    assert repetition("") == 0.0 and not repeats_ngram("two words")
