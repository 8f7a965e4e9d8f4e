"""Several draft candidates per suggestion: the first greedy, the others sampled with their own seeds,
the first that passes the checks used; the checks themselves are the same for every candidate."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from assistant.assist.protocol import Ticket
from assistant.config import AssistSettings
from assistant.generation.fake import FakeGenerator
from tests.assistant.assist.conftest import entry

REFUND = entry("faq-refunds-method", "refunds", "Refunds go back to the original payment method.")
GOOD = (
    "I'm sorry to hear you want your money back. Refunds go back to the original payment method "
    "you used for {{Order Number}}, so please check that account."
)
INVENTED_STEP = GOOD + "\n\n1. Open your account.\n2. Pay the 15 dollar fee."


def by_seed(drafts: dict[int, str]):
    """A generator whose reply depends on the request's seed (candidates run concurrently, so a queue
    of replies would hand them out in no fixed order)."""
    return FakeGenerator(default=lambda request: drafts.get(request.seed or 0, INVENTED_STEP))


def test_a_sampled_candidate_that_passes_replaces_a_greedy_one_that_fails(make_service):
    gen = by_seed({0: INVENTED_STEP, 1: INVENTED_STEP, 2: GOOD})
    service, _ = make_service([(REFUND, 0.8)], generator=gen, draft_candidates=3)
    s = service.run(Ticket(text="refund")).suggestions[0]
    assert s.written_by != "template" and not s.draft_problems
    assert "Refunds go back to the original payment method you used" in s.text and "15 dollar" not in s.text
    requests = sorted(gen.requests, key=lambda r: r.seed or 0)
    assert [(r.seed, r.temperature) for r in requests] == [(0, 0.0), (1, 0.7), (2, 0.7)]
    assert len({r.messages[1].content for r in requests}) == 1  # the same prompt, other decoding


def test_the_greedy_candidate_wins_when_it_passes(make_service):
    gen = by_seed({0: GOOD, 1: GOOD + " Refunds go back to the original payment method."})
    service, _ = make_service([(REFUND, 0.8)], generator=gen, draft_candidates=2)
    s = service.run(Ticket(text="refund")).suggestions[0]
    assert s.written_by != "template" and s.text.count("Refunds go back") == 1


def test_when_no_candidate_passes_the_template_stays_with_the_first_candidates_problems(make_service):
    gen = by_seed({})
    service, _ = make_service([(REFUND, 0.8)], generator=gen, draft_candidates=3)
    s = service.run(Ticket(text="refund")).suggestions[0]
    assert s.written_by == "template" and s.draft_problems[0].startswith("a step states")
    assert s.text.count("Refunds go back to the original payment method.") == 1
    assert len(gen.requests) == 3


def test_one_candidate_is_one_greedy_draft(make_service):
    gen = FakeGenerator([GOOD])
    service, _ = make_service([(REFUND, 0.8)], generator=gen)
    service.run(Ticket(text="refund"))
    assert [(r.seed, r.temperature) for r in gen.requests] == [(0, 0.0)]


def test_each_suggestion_gets_its_own_candidates(make_service):
    track = entry("faq-orders-tracking", "orders", "When your order ships, we email you the tracking number.")
    gen = by_seed({})  # every candidate invents a step, so none stops its siblings (that is a race)
    service, _ = make_service([(REFUND, 0.8), (track, 0.7)], generator=gen, draft_candidates=2)
    result = service.run(Ticket(text="refund"))
    seeds: dict[str, list[int]] = {}
    for r in gen.requests:
        seeds.setdefault(r.messages[1].content.split("Ticket:")[0], []).append(r.seed or 0)
    assert {answer: sorted(s) for answer, s in seeds.items()} == {
        f"Answer: {REFUND.answer}\n": [0, 1],
        f"Answer: {track.answer}\n": [0, 1],
    }
    assert all(s.written_by == "template" and s.draft_problems for s in result.suggestions)


@pytest.mark.parametrize("value", [0, 9])
def test_a_candidate_count_out_of_range_is_a_clear_error(value):
    with pytest.raises(ValidationError, match="draft_candidates"):
        AssistSettings(draft_candidates=value)


def test_no_more_drafts_run_at_once_than_the_engine_decodes_together(make_service):
    track = entry("faq-orders-tracking", "orders", "When your order ships, we email you the tracking number.")
    sizing = entry("faq-products-sizing", "products", "Our size charts are on each product page.")
    gen = by_seed({})
    gen.max_batch_size = 4
    service, _ = make_service([(REFUND, 0.8), (track, 0.7), (sizing, 0.6)], generator=gen, draft_candidates=3)
    result = service.run(Ticket(text="refund"))
    # every suggestion's greedy draft, then the sampled ones rank by rank while slots last
    assert sorted((r.seed, r.messages[1].content.split("Ticket:")[0]) for r in gen.requests) == sorted(
        [(0, f"Answer: {e.answer}\n") for e in (REFUND, track, sizing)] + [(1, f"Answer: {REFUND.answer}\n")]
    )
    assert all(s.written_by == "template" and s.draft_problems for s in result.suggestions)


def test_consensus_uses_the_passing_candidate_the_others_agree_with(make_service):
    odd = (
        "Hello! Refunds go back to the original payment method. Thanks for shopping with us, we value "
        "you as a customer and hope to see you again soon."
    )
    near = GOOD.replace("please check that account", "please check that account soon")
    drafts = {0: odd, 1: GOOD, 2: near}
    gen = by_seed(drafts)
    service, _ = make_service([(REFUND, 0.8)], generator=gen, draft_candidates=3, draft_choice="consensus")
    s = service.run(Ticket(text="refund")).suggestions[0]
    assert s.written_by != "template" and "sorry to hear" in s.text  # GOOD or near, not the greedy odd one
    service, _ = make_service([(REFUND, 0.8)], generator=by_seed(drafts), draft_candidates=3)
    assert "Hello!" in service.run(Ticket(text="refund")).suggestions[0].text  # "first": the greedy one


def test_consensus_with_one_passing_candidate_uses_it(make_service):
    gen = by_seed({0: INVENTED_STEP, 1: GOOD, 2: INVENTED_STEP})
    service, _ = make_service([(REFUND, 0.8)], generator=gen, draft_candidates=3, draft_choice="consensus")
    s = service.run(Ticket(text="refund")).suggestions[0]
    assert s.written_by != "template" and "15 dollar" not in s.text and "sorry to hear" in s.text
