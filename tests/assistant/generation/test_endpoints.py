"""The endpoint pool alone: which server a request gets, down marking, the probe, thread safety."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from assistant.generation.endpoints import EndpointPool

A, B, C = "http://a:1", "http://b:2", "http://c:3"


def never(url: str) -> None:
    raise AssertionError(f"no probe expected ({url})")


def wait_for(condition, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def outstanding(pool: EndpointPool) -> dict[str, int]:
    return {s["url"]: s["outstanding"] for s in pool.status()}


def test_least_outstanding_wins_and_ties_go_round_robin():
    pool = EndpointPool(never, urls=[A, B, C])
    assert [pool.pick([A, B, C]) for _ in range(3)] == [A, B, C]  # each busy with one now
    pool.release(B)
    assert pool.pick([A, B, C]) == B  # the only one with nothing in flight
    for url in (A, B, C, B):
        pool.release(url)
    assert outstanding(pool) == {A: 0, B: 0, C: 0}
    # All idle: the one picked longest ago goes first, so sequential requests rotate.
    picks = []
    for _ in range(6):
        url = pool.pick([A, B, C])
        assert url is not None
        picks.append(url)
        pool.release(url)
    assert picks == [A, C, B, A, C, B]
    assert {s["url"]: s["requests"] for s in pool.status()} == {A: 3, B: 4, C: 3}


def test_each_candidate_set_is_its_own_choice_and_unknown_urls_are_registered():
    pool = EndpointPool(never, urls=[A])
    assert pool.pick([B, C]) == B
    assert pool.pick([B, C]) == C
    assert pool.pick([A, B]) == A
    assert [s["url"] for s in pool.status()] == [A, B, C]
    assert [s["url"] for s in pool.status([C, A])] == [C, A]


def test_down_servers_are_skipped_and_avoid_and_anyway_pick_for_retries():
    pool = EndpointPool(never, recheck_s=3600, urls=[A, B])
    pool.mark_down(A, "refused")
    assert not pool.is_up(A) and pool.is_up(B)
    assert pool.pick([A, B]) == B
    assert pool.pick([A, B], avoid=[B]) is None  # a fresh server is what the request asks for
    assert pool.pick([A, B], avoid=[B], anyway=True) == B  # a retry prefers one that is up
    pool.mark_down(B, "503")
    assert pool.pick([A, B]) is None  # everything down: the request fails at once
    assert pool.pick([A, B], anyway=True) == A  # the retry's last resort: the least busy down one
    status = {s["url"]: s for s in pool.status()}
    assert status[A]["up"] is False and status[A]["last_error"] == "refused"
    assert status[B]["down_since"] is not None and status[B]["last_error"] == "503"
    pool.mark_up(B)
    assert pool.pick([A, B]) == B
    pool.close()


def test_the_probe_brings_a_server_back_when_its_check_passes():
    answers = {A: False}
    checked: list[str] = []

    def check(url: str) -> None:
        checked.append(url)
        if not answers[url]:
            raise OSError("connection refused")

    pool = EndpointPool(check, recheck_s=0.02, urls=[A, B])
    pool.mark_down(A, "refused")
    assert wait_for(lambda: len(checked) >= 2)
    assert not pool.is_up(A) and pool.status([A])[0]["last_error"] == "connection refused"
    answers[A] = True
    assert wait_for(lambda: pool.is_up(A))
    assert set(checked) == {A}  # only the down one is probed
    # The probe thread ends with nothing down, and a later outage starts another.
    assert wait_for(lambda: pool._prober is None)
    answers[A] = False
    pool.mark_down(A, "refused again")
    assert pool._prober is not None
    pool.close()
    assert wait_for(lambda: not pool._prober or not pool._prober.is_alive())


def test_recheck_must_be_positive():
    with pytest.raises(ValueError):
        EndpointPool(never, recheck_s=0)


def test_counts_stay_exact_under_many_threads():
    pool = EndpointPool(never, urls=[A, B])
    barrier = threading.Barrier(16)
    got: Counter[str] = Counter()
    lock = threading.Lock()

    def work() -> None:
        barrier.wait()
        for _ in range(200):
            url = pool.pick([A, B])
            assert url is not None
            with lock:
                got[url] += 1
            pool.release(url)

    with ThreadPoolExecutor(16) as executor:
        for future in [executor.submit(work) for _ in range(16)]:
            future.result()
    status = {s["url"]: s for s in pool.status()}
    assert {u: s["outstanding"] for u, s in status.items()} == {A: 0, B: 0}
    assert {u: s["requests"] for u, s in status.items()} == dict(got)
    assert sum(got.values()) == 3200 and min(got.values()) > 800  # spread, not piled on one
