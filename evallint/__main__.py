import os
import sys

# `python -m` puts the working directory first on sys.path: a project file named click.py or
# libcst.py would then be imported (and run) in place of evallint's dependencies. evallint never
# runs the code it lints, so the working directory comes off the path before anything is imported.
if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from evallint.cli import entry  # noqa: E402

entry()
