"""Source text split into lines the way CPython numbers them, for every reader of positions."""

from __future__ import annotations

import re

# str.splitlines would also split at form feeds and other separators.
_LINE = re.compile(r".*?(?:\r\n|\r|\n)|.+\Z", re.DOTALL)


def split_lines(text: str) -> list[str]:
    """Lines with their endings, split only where Python's tokenizer splits (not at form feeds)."""
    return _LINE.findall(text)
