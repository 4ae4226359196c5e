"""Group commit: every item committed exactly once, batches form under concurrency, errors reach every waiter."""

from __future__ import annotations

import threading
import time

import greenlet
import pytest

from api.log.groupcommit import Cooperation, GroupCommit


def test_single_caller_commits_directly():
    seen: list[list[int]] = []
    gc = GroupCommit(lambda items: seen.append(list(items)))
    gc.submit([1])
    gc.submit([2, 3])
    assert seen == [[1], [2, 3]] and gc.batches == 2 and gc.committed == 3


def test_waiters_share_the_next_transaction():
    first_started, release = threading.Event(), threading.Event()
    batches: list[list[int]] = []

    def append(items):
        batches.append(list(items))
        if len(batches) == 1:
            first_started.set()
            assert release.wait(10)

    gc: GroupCommit[int] = GroupCommit(append)
    leader = threading.Thread(target=gc.submit, args=([0],))
    leader.start()
    assert first_started.wait(10)
    others = [threading.Thread(target=gc.submit, args=([i],)) for i in range(1, 9)]
    for t in others:
        t.start()
    deadline = time.monotonic() + 10
    while gc.pending() < 8 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert gc.pending() == 8
    release.set()
    for t in [leader, *others]:
        t.join(10)
    assert batches[0] == [0]
    assert sorted(batches[1]) == list(range(1, 9)) and len(batches) == 2


def test_many_threads_every_item_exactly_once_in_fewer_transactions():
    committed: list[int] = []
    sizes: list[int] = []  # items per transaction, in commit order
    lock = threading.Lock()
    first_started, release = threading.Event(), threading.Event()

    def append(items):
        with lock:
            sizes.append(len(items))
        if len(sizes) == 1:  # hold the first commit until every other thread has queued behind it
            first_started.set()
            assert release.wait(10)
        time.sleep(0.0005)
        with lock:
            committed.extend(items)

    gc: GroupCommit[int] = GroupCommit(append)
    threads = [threading.Thread(target=lambda k=k: [gc.submit([k * 100 + j]) for j in range(50)]) for k in range(8)]
    for t in threads:
        t.start()
    assert first_started.wait(10)
    deadline = time.monotonic() + 10
    while gc.pending() < 7 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert gc.pending() == 7
    release.set()
    for t in threads:
        t.join()
    assert sorted(committed) == sorted(k * 100 + j for k in range(8) for j in range(50))
    assert gc.committed == 400 and gc.batches == len(sizes) and sum(sizes) == 400
    assert sizes[0] == 1 and sizes[1] >= 7  # the 7 that queued shared the next transaction
    assert gc.batches < 400


def test_a_failed_commit_fails_every_request_in_its_batch_and_the_next_one_works():
    calls = []

    def append(items):
        calls.append(list(items))
        if len(calls) == 1:
            raise OSError("disk full")

    gc: GroupCommit[int] = GroupCommit(append)
    with pytest.raises(OSError, match="disk full"):
        gc.submit([1])
    gc.submit([2])
    assert calls == [[1], [2]] and gc.committed == 1


# Cooperation: requests run as greenlets of one thread (the serving loop) share the loop's commit.

def _cooperating(append, requests):
    """Run each request (a function of the committer) as a greenlet of one Cooperation; what each did, in order."""
    gc: GroupCommit[int] = GroupCommit(append)
    events: list[tuple[str, object]] = []

    def run(request):
        try:
            request(gc)
            events.append(("done", request.__name__))
        except RuntimeError as e:
            events.append(("failed", str(e)))

    with Cooperation() as together:
        for request in requests:
            together.run(run, request)
            events.append(("parked or done", request.__name__))
    return gc, together, events


def _submits(*items):
    def request(gc):
        gc.submit(list(items))
    request.__name__ = f"r{items[0]}"
    return request


def test_cooperating_requests_wait_for_one_transaction_then_go_on_in_order():
    batches: list[list[int]] = []
    gc, together, events = _cooperating(lambda items: batches.append(list(items)),
                                        [_submits(1), _submits(2, 3), _submits(4)])
    # Each ran up to its commit and handed the thread back; one transaction for all; then each went on, in order.
    assert batches == [[1, 2, 3, 4]]
    assert events == [("parked or done", "r1"), ("parked or done", "r2"), ("parked or done", "r4"),
                      ("done", "r1"), ("done", "r2"), ("done", "r4")]
    assert (together.settled, together.rounds, gc.batches, gc.committed) == (3, 1, 1, 4)


def test_a_failed_shared_commit_fails_every_request_in_it():
    def append(items):
        raise RuntimeError(f"disk full ({len(items)} rows)")

    gc, together, events = _cooperating(append, [_submits(1), _submits(2)])
    assert events[2:] == [("failed", "disk full (2 rows)"), ("failed", "disk full (2 rows)")]
    assert gc.committed == 0 and together.settled == 2


def test_a_request_that_commits_again_after_resuming_is_settled_in_a_second_round():
    batches: list[list[int]] = []

    def twice(gc):
        gc.submit([1])
        gc.submit([10])

    _, together, events = _cooperating(lambda items: batches.append(list(items)), [twice, _submits(2)])
    assert batches == [[1, 2], [10]] and together.rounds == 2 and ("done", "twice") in events


def test_a_request_without_a_cooperation_or_on_the_loop_itself_commits_directly():
    batches: list[list[int]] = []
    gc: GroupCommit[int] = GroupCommit(lambda items: batches.append(list(items)))
    with Cooperation() as together:
        gc.submit([1])  # the loop's own greenlet: nobody to hand the thread to
        assert batches == [[1]]
    gc.submit([2])
    assert batches == [[1], [2]] and together.settled == 0


def test_the_loop_settles_behind_a_threads_commit_in_progress():
    # A request thread of the same worker (a batch, not a loop route) is committing: the loop's parked request waits
    # for that transaction to end (one at a time per worker), then the loop commits its rows and resumes it.
    started, release = threading.Event(), threading.Event()
    batches: list[list[int]] = []

    def append(items):
        batches.append(list(items))
        if items == [0]:
            started.set()
            assert release.wait(10)

    gc: GroupCommit[int] = GroupCommit(append)
    thread = threading.Thread(target=gc.submit, args=([0],))
    thread.start()
    assert started.wait(10)
    done: list[int] = []
    threading.Timer(0.2, release.set).start()
    with Cooperation() as together:
        together.run(lambda: (gc.submit([1]), done.append(1)))
        assert done == []  # parked behind the thread's commit
    thread.join(10)
    assert done == [1] and batches == [[0], [1]]


def test_a_cooperation_reuses_the_greenlets_of_finished_requests():
    # A new greenlet maps a fresh frame stack for its first Python frame; a finished request's greenlet runs the next.
    seen: list[object] = []
    with Cooperation() as together:
        for _ in range(3):
            together.run(lambda: seen.append(greenlet.getcurrent()))
    assert len(seen) == 3 and len(set(map(id, seen))) == 1
    gc: GroupCommit[int] = GroupCommit(lambda items: None)
    with Cooperation() as again:  # two requests parked at once need two greenlets; both are kept afterwards
        for _ in range(2):
            again.run(lambda: (gc.submit([1]), seen.append(greenlet.getcurrent())))
        again.run(lambda: seen.append(greenlet.getcurrent()))  # while both are parked: a third
    assert len({id(g) for g in seen[3:]}) == 3


def test_an_exception_ends_its_greenlet_and_reaches_the_loop():
    def fail():
        raise ValueError("boom")

    seen: list[object] = []
    with Cooperation() as together:
        together.run(lambda: seen.append(greenlet.getcurrent()))
        with pytest.raises(ValueError, match="boom"):
            together.run(fail)  # the idle greenlet ran it and died with it
        together.run(lambda: seen.append(greenlet.getcurrent()))
    assert seen[0] is not seen[1] and seen[0].dead


def test_a_cooperation_used_from_another_thread_does_not_resume_the_first_threads_greenlets():
    together = Cooperation()
    ran: list[int] = []

    def turn() -> None:
        with together:
            together.run(lambda: ran.append(threading.get_ident()))

    turn()  # leaves an idle greenlet of this thread; switching to it from another thread would fail
    other = threading.Thread(target=turn)
    other.start()
    other.join(10)
    assert len(ran) == 2 and ran[0] != ran[1]
