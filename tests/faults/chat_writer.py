"""A process writing Hearth's chat store, for kill and concurrency tests.

Run: python -m tests.faults.chat_writer DB CHAT_ID ANSWERS PIECES [TAG]

Waits for a line on stdin, then streams ANSWERS answers into the chat, PIECES pieces each
(``<TAG.answer.piece>``), as the chat worker does: ``begin_answer``, ``append_to_answer`` per
piece, ``finish_answer``. After each commit it prints what is saved: ``begin A ID``,
``piece A I``, ``finish A``; the clock when it starts and ends: ``go T``, ``done T``.
"""

import sys
import time
from pathlib import Path

from app.core.chats.store import ChatStore


def piece(tag: str, answer: int, index: int) -> str:
    return f"<{tag}.{answer}.{index}>"


def expected(tag: str, answer: int, pieces: int) -> str:
    return "".join(piece(tag, answer, i) for i in range(pieces))


def main() -> None:
    db, chat_id, answers, pieces = (
        Path(sys.argv[1]),
        int(sys.argv[2]),
        int(sys.argv[3]),
        int(sys.argv[4]),
    )
    tag = sys.argv[5] if len(sys.argv) > 5 else "w"
    store = ChatStore(db)
    print("ready", flush=True)
    sys.stdin.readline()
    print(f"go {time.time()}", flush=True)
    for answer in range(answers):
        message_id = store.begin_answer(chat_id)
        print(f"begin {answer} {message_id}", flush=True)
        for index in range(pieces):
            store.append_to_answer(message_id, piece(tag, answer, index))
            print(f"piece {answer} {index}", flush=True)
        store.finish_answer(message_id, {"tag": tag}, "stop")
        print(f"finish {answer}", flush=True)
    store.close()
    print(f"done {time.time()}", flush=True)


if __name__ == "__main__":
    main()
