"""The worker's token batching: nothing lost or reordered, the first token at once."""

from app.core.inference.text_batcher import TextBatcher


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_first_piece_at_once_then_one_chunk_per_interval_and_nothing_lost():
    clock, sent = Clock(), []
    batcher = TextBatcher(sent.append, interval=0.03, clock=clock)
    batcher.add("Once")
    assert sent == ["Once"]  # time to first token is not delayed
    for piece in (" upon", " a", " time"):
        clock.now += 0.01
        batcher.add(piece)
    assert sent == ["Once", " upon a time"]  # 30 ms after the first chunk
    clock.now += 0.005
    batcher.add(",")
    batcher.add(" a")
    assert sent == ["Once", " upon a time"]
    batcher.flush()
    batcher.flush()  # nothing left: no empty chunk
    assert sent == ["Once", " upon a time", ", a"]
    assert "".join(sent) == "Once upon a time, a"
