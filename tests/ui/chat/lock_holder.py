"""Another program holding the chat history's write lock, for the tests that check the window
goes on meanwhile: a real second process with its own SQLite connection.

Run: python -m tests.ui.chat.lock_holder DB. It reads commands on stdin, one a line, and answers
each on stdout once done: ``wait S`` (sleep S seconds, no lock: the baseline), ``hold S`` (take
the write lock, say ``locked``, keep it S seconds, let it go), ``lock`` (take it and keep it until
``unlock``), ``unlock``.
"""

from __future__ import annotations

import sqlite3
import sys
import time


def main(db: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    for line in sys.stdin:
        command, *rest = line.split()
        if command == "wait":
            print("waiting", flush=True)
            time.sleep(float(rest[0]))
        elif command == "hold":
            conn.execute("BEGIN EXCLUSIVE")
            print("locked", flush=True)
            time.sleep(float(rest[0]))
            conn.execute("COMMIT")
        elif command == "lock":
            conn.execute("BEGIN EXCLUSIVE")
            print("locked", flush=True)
            continue
        elif command == "unlock":
            conn.execute("COMMIT")
        print("done", flush=True)
    conn.close()


if __name__ == "__main__":
    main(sys.argv[1])
