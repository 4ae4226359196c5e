"""Group commit: every item committed exactly once, batches form under concurrency, errors reach every waiter."""

from __future__ import annotations

import threading
import time

import pytest

from api.log.groupcommit import GroupCommit


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
