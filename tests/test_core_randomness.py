"""Random ids from a pool of kernel random bytes: each byte handed out once, and never in two processes."""

from __future__ import annotations

import os
import re

from engine.core.randomness import random_hex


def test_ids_are_128_random_bits_each_handed_out_once() -> None:
    ids = [random_hex(16) for _ in range(5000)]  # about 20 refills of the pool
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids) and len(set(ids)) == len(ids)
    assert len(random_hex(5)) == 10


def test_a_forked_child_never_hands_out_the_parents_bytes() -> None:
    random_hex(16)  # the pool is full now, and a child would inherit it
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: its next id, then out at once (no pytest teardown in the child)
        os.write(write, random_hex(16).encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(child, 0)
    child_id = os.read(read, 64).decode()
    os.close(read)
    assert status == 0 and len(child_id) == 32
    assert child_id != random_hex(16)  # what the parent hands out next: the same bytes, had the child kept the pool
