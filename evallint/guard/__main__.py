"""``python -m evallint.guard SCRIPT [ARGS...]``: run SCRIPT as ``python SCRIPT ARGS`` would, guarded.

Exit status: the script's own; 2 when SCRIPT is missing or PyTorch is not installed.
"""

from __future__ import annotations

import os
import runpy
import sys

USAGE = "usage: python -m evallint.guard SCRIPT [ARGS...]"


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    script = argv[0]
    if not os.path.isfile(script):
        print(f"evallint.guard: {script}: no such file", file=sys.stderr)
        return 2
    import evallint.guard

    root = os.path.dirname(os.path.realpath(script))
    try:
        evallint.guard.install(project_root=root)
    except RuntimeError as exc:
        print(f"evallint.guard: {exc}", file=sys.stderr)
        return 2
    sys.argv = list(argv)
    sys.path[0] = root
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
