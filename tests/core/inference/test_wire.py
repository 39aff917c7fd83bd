"""app/core/inference/host/wire.py: the frames between Hearth and a model host, whatever the
other side sends."""

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.inference.host import wire

MESSAGES = st.dictionaries(
    st.text(max_size=8),
    st.one_of(
        st.integers(),
        st.text(max_size=40),
        st.booleans(),
        st.none(),
        st.lists(st.text(max_size=8), max_size=4),
    ),
    max_size=6,
)


@settings(derandomize=True, max_examples=200)
@given(st.lists(MESSAGES, max_size=5))
def test_frames_come_back_as_they_were_sent(messages):
    stream = io.BytesIO()
    for message in messages:
        wire.write(stream, message)
    stream.seek(0)
    assert [wire.read(stream) for _ in messages] == messages
    assert wire.read(stream) is None  # the end of the stream, not an error


@settings(derandomize=True, max_examples=300)
@given(st.binary(max_size=64))
def test_garbage_is_a_wire_error_or_the_end_never_a_crash(data):
    stream = io.BytesIO(data)
    try:
        for _ in range(4):
            if wire.read(stream) is None:
                break
    except wire.WireError:
        pass


def test_a_frame_that_claims_too_much_is_refused_before_it_is_read():
    stream = io.BytesIO((wire.MAX_FRAME + 1).to_bytes(4, "big") + b"{}")
    with pytest.raises(wire.WireError, match="frame of"):
        wire.read(stream)


def test_a_frame_that_is_json_but_not_an_object_is_refused():
    data = json.dumps([1, 2]).encode()
    stream = io.BytesIO(len(data).to_bytes(4, "big") + data)
    with pytest.raises(wire.WireError, match="not an object"):
        wire.read(stream)
