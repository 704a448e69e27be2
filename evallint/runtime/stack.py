"""Where in the user's code a probe fired: the user's frames on the call stack.

Every outermost forward, backward, optimizer step and mode switch is located
by the user's frames around it; torch's, evallint's and the standard library's
frames are never the user's.
"""

from __future__ import annotations

import os
import sys
import sysconfig

MAX_USER_FRAMES = 8
# A bound on the frame cache: code generated at runtime keeps adding frames.
MAX_CACHED_FRAMES = 1 << 16


def _function_name(code) -> str:
    """The user's function a code object belongs to: a comprehension, generator
    expression or lambda is named after the function that contains it."""
    name = code.co_name
    if not name.startswith("<") or name == "<module>":
        return name
    qualname = getattr(code, "co_qualname", None)  # Python 3.11+
    if qualname is None:
        return name
    named = [part for part in qualname.split(".") if not part.startswith("<")]
    return named[-1] if named else "<module>"


def _internal_prefixes(torch) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(always internal, internal unless site-packages, site-packages) directory prefixes.

    torch and evallint frames are never the user's; the stdlib's are not either,
    but site-packages usually lives inside the stdlib directory and holds
    libraries (Lightning, transformers) whose frames a finding may point into.
    """
    evallint_dir = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    always = (
        os.path.dirname(os.path.realpath(torch.__file__)) + os.sep,
        evallint_dir + os.sep,
    )
    paths = sysconfig.get_paths()
    site = tuple(
        {os.path.realpath(paths[k]) + os.sep for k in ("purelib", "platlib") if k in paths}
    )
    return always, (os.path.realpath(paths["stdlib"]) + os.sep,), site


def _position(code, lasti: int) -> tuple:
    try:
        positions = list(code.co_positions())
        index = lasti // 2
        if 0 <= index < len(positions):
            _, end_line, col, end_col = positions[index]
            if col is not None:
                return (col + 1, end_line, (end_col or col) + 1)
    except Exception:
        pass
    return (None, None, None)


class UserStack:
    def __init__(self, torch) -> None:
        self.internal_prefixes, self.stdlib_prefixes, self.site_prefixes = \
            _internal_prefixes(torch)
        self._file_cache: dict[str, str | None] = {}
        self._frame_cache: dict[tuple, tuple] = {}

    def user_path(self, filename: str) -> str | None:
        cached = self._file_cache.get(filename, False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        if filename.startswith("<"):
            result = None
        else:
            real = os.path.realpath(filename)
            internal = real.startswith(self.internal_prefixes) or (
                real.startswith(self.stdlib_prefixes) and not real.startswith(self.site_prefixes)
            )
            result = None if internal else real
        self._file_cache[filename] = result
        return result

    def location(self) -> tuple[str, int] | None:
        """(path, line) of the innermost frame of the caller's stack that is the user's code."""
        frame = sys._getframe(1)
        while frame is not None:
            path = self.user_path(frame.f_code.co_filename)
            if path is not None:
                return path, frame.f_lineno
            frame = frame.f_back
        return None

    def _frame_entry(self, frame) -> tuple | None:
        code = frame.f_code
        path = self.user_path(code.co_filename)
        if path is None:
            return None
        col, end_line, end_col = _position(code, frame.f_lasti)
        return (path, frame.f_lineno, _function_name(code), col, end_line, end_col)

    def frames(self) -> tuple:
        """The user's frames on the stack, innermost first: (path, line, function, column, end line, end column).

        This runs on every outermost forward, backward and optimizer step. A
        frame's entry depends only on its code and the instruction it is at,
        so it is built once per (code, instruction) and looked up after.
        """
        found = []
        cache = self._frame_cache
        frame = sys._getframe(2)
        while frame is not None:
            # Keyed by the code's id, since hashing a code object hashes its contents; the
            # cached code is kept alive, so its id cannot be reused while the entry exists.
            code = frame.f_code
            key = (id(code), frame.f_lasti)
            cached = cache.get(key)
            if cached is None or cached[0] is not code:
                if len(cache) >= MAX_CACHED_FRAMES:
                    cache.clear()
                cached = cache[key] = (code, self._frame_entry(frame))
            entry = cached[1]
            if entry is not None:
                found.append(entry)
                if len(found) == MAX_USER_FRAMES:
                    break
            frame = frame.f_back
        return tuple(found)
