"""Runtime verification: run a script under torch hooks and confirm the static findings.

Nothing here imports torch at import time; the lint path never loads this package's
harness, and the probes (``hooks``) are imported only inside the child process.
"""
