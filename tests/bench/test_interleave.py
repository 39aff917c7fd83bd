"""app/bench/interleave.py: two real child processes taking turns, paused with SIGSTOP."""

import sys
import textwrap

import pytest

from app.bench import interleave

CPU_S = 1.2  # each child's work, in seconds of its own CPU time
SLOT_S = 0.1

# A child as the protocol wants it: ready, wait for go, work CPU_S of CPU, report its times.
CHILD = textwrap.dedent(f"""
    import json, sys, time
    print("ready", flush=True)
    sys.stdin.readline()
    first = time.monotonic()
    cpu = time.process_time()
    while time.process_time() - cpu < {CPU_S}:
        pass
    print(json.dumps({{"first": first, "last": time.monotonic()}}), flush=True)
""")


def test_active_seconds_leave_out_the_pauses():
    assert interleave.active_seconds(10.0, 20.0, []) == 10.0
    # paused 9-11 (1 s inside), 12-13, 19-25 (1 s inside)
    assert interleave.active_seconds(10.0, 20.0, [(9, 11), (12, 13), (19, 25)]) == 7.0


@pytest.mark.skipif(not interleave.can_pause(), reason="processes cannot be paused here")
def test_two_children_take_turns_and_each_counts_only_its_own_time():
    """Asserts only what a busy machine cannot change: sharing the CPU with other work makes
    each child's CPU_S take longer, never shorter, and a turn last at least SLOT_S."""
    children = interleave.run_in_turns([[sys.executable, "-c", CHILD]] * 2, slot_s=SLOT_S)

    actives = []
    for child in children:
        times = child.result
        wall = times["last"] - times["first"]
        active = interleave.active_seconds(times["first"], times["last"], child.pauses)
        actives.append(active)
        assert len(child.pauses) >= 3  # it was paused again and again while the other ran
        assert active > CPU_S - 0.1  # its own CPU time is all counted...
        # ...and its pauses are not: each lasted the other's turn, at least SLOT_S (the first
        # may begin before this child did, the last may come after it ended)
        assert wall - active >= (len(child.pauses) - 2) * SLOT_S, (wall, active, child.pauses)
    first = min(child.result["first"] for child in children)
    last = max(child.result["last"] for child in children)
    # Taking turns, they never ran at once: together they took at least both CPU times...
    assert last - first > 2 * CPU_S - 0.1
    # ...and neither counted the other's work, which would add a whole CPU_S to the sum.
    assert sum(actives) < (last - first) + CPU_S / 2, (actives, last - first)


def test_a_child_that_fails_says_why():
    broken = "import sys; print('no model here', file=sys.stderr); sys.exit(3)"
    with pytest.raises(RuntimeError, match="did not start: no model here"):
        interleave.run_in_turns([[sys.executable, "-c", broken], [sys.executable, "-c", CHILD]])
