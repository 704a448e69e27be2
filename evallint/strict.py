"""The strict switch: in evallint's own test suite, internal errors that normal runs absorb fail loudly.

A normal run turns an unexpected internal error in an optional step (building
one fix) into a lower-precision result, never a traceback for the user. The
tests set EVALLINT_STRICT=1 so such errors surface and get fixed.
"""

from __future__ import annotations

import os


def strict() -> bool:
    return os.environ.get("EVALLINT_STRICT") == "1"
