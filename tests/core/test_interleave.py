"""app/core/interleave.py: two real child processes taking turns, paused with SIGSTOP."""

import sys
import textwrap

import pytest

from app.core import interleave

# A child as the protocol wants it: ready, wait for go, work ~1.2 s of CPU, report its times.
CHILD = textwrap.dedent("""
    import json, sys, time
    print("ready", flush=True)
    sys.stdin.readline()
    first = time.monotonic()
    cpu = time.process_time()
    while time.process_time() - cpu < 1.2:
        pass
    print(json.dumps({"first": first, "last": time.monotonic()}), flush=True)
""")


def test_active_seconds_leave_out_the_pauses():
    assert interleave.active_seconds(10.0, 20.0, []) == 10.0
    # paused 9-11 (1 s inside), 12-13, 19-25 (1 s inside)
    assert interleave.active_seconds(10.0, 20.0, [(9, 11), (12, 13), (19, 25)]) == 7.0


@pytest.mark.skipif(not interleave.can_pause(), reason="processes cannot be paused here")
def test_two_children_take_turns_and_each_counts_only_its_own_time():
    children = interleave.run_in_turns([[sys.executable, "-c", CHILD]] * 2, slot_s=0.1)

    spans = []
    for child in children:
        times = child.result
        wall = times["last"] - times["first"]
        active = interleave.active_seconds(times["first"], times["last"], child.pauses)
        spans.append((wall, active))
        assert len(child.pauses) >= 3  # it was paused again and again while the other ran
        assert 1.1 < active < 1.2 + 0.6  # its own CPU second, not the other's
    # Taking turns, each one's span holds the other's work too.
    assert max(wall for wall, _ in spans) > 2.0


def test_a_child_that_fails_says_why():
    broken = "import sys; print('no model here', file=sys.stderr); sys.exit(3)"
    with pytest.raises(RuntimeError, match="did not start: no model here"):
        interleave.run_in_turns([[sys.executable, "-c", broken], [sys.executable, "-c", CHILD]])
