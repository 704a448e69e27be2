"""The probes' records, written across a process boundary (``evallint verify``).

One JSON object per line, with one ``os.write`` per record. Unbuffered writes
are the point: a script that calls ``os._exit``, is killed by the timeout or
by the kernel's OOM killer still leaves every record written before it died.
In a forked process every record carries ``p`` (its pid) so that ids stay
distinct. The record kinds are described in ``hooks``.
"""

from __future__ import annotations

import json
import os
import threading


class RecordWriter:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pid_tag: int | None = None
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self.pid_tag = os.getpid()
        self._lock = threading.Lock()

    def write(self, record: dict) -> None:
        if self.pid_tag is not None:
            record["p"] = self.pid_tag
        data = (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode()
        with self._lock:
            view = memoryview(data)
            while view:
                written = os.write(self.fd, view)
                view = view[written:]
