"""Names in the code: the words of an identifier, attribute chains, and the keys the analysis
gives them (``self.model.module`` is ``self.model``: wrappers forward to what they wrap)."""

from __future__ import annotations

import ast
import functools
import re

from evallint.analysis.torch_api import WRAPPED_MODULE_ATTRS

_WRAPPER_ATTR = re.compile("|".join(map(re.escape, sorted(WRAPPED_MODULE_ATTRS))))  # within a part, or a part
_WORD_SPLIT = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def identifier_words(name: str) -> list[str]:
    """``valLoader`` -> ["val", "loader"]; ``test_dl2`` -> ["test", "dl", "2"]."""
    return list(_words(name))


@functools.lru_cache(maxsize=1 << 16)
def _words(name: str) -> tuple[str, ...]:
    # The same few thousand names (methods, parameters, callees) are asked about again and again.
    return tuple(word.lower() for word in _WORD_SPLIT.findall(name))


def chain_of(expr: ast.AST) -> str | None:
    """``self.model.module`` -> "self.model.module"; anything but names and attributes -> None."""
    kind = type(expr)
    if kind is ast.Name:  # most chains are a name alone
        return expr.id
    parts: list[str] = []
    while kind is ast.Attribute:
        parts.append(expr.attr)
        expr = expr.value
        kind = type(expr)
    if kind is not ast.Name:
        return None
    parts.append(expr.id)
    return ".".join(reversed(parts))


def key_of_chain(chain: str) -> str:
    """Drop wrapper hops: ``model.module.backbone`` -> ``model.backbone``."""
    if "." not in chain or _WRAPPER_ATTR.search(chain) is None:
        return chain  # (no part can be a wrapper's)
    parts = chain.split(".")
    kept = [parts[0]] + [part for part in parts[1:] if part not in WRAPPED_MODULE_ATTRS]
    return ".".join(kept)


def key_and_ancestors(key: str) -> list[str]:
    """``a.b["c"].d`` -> [``a.b["c"].d``, ``a.b["c"]``, ``a.b``, ``a``]: an entry of a container
    is part of it as an attribute is (``models.eval()`` covers ``models["gen"]``)."""
    if "[" not in key:
        parts = key.split(".")
        return [".".join(parts[:cut]) for cut in range(len(parts), 0, -1)]
    cuts, quote, escaped = [], "", False
    for position, char in enumerate(key):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in ".[" and position:
            cuts.append(position)
    return [key, *(key[:cut] for cut in reversed(cuts))]


def index_text(literal: object) -> str:
    """A literal subscript as people write it: ``models["gen"]``, ``layers[0]``. Strings keep their
    quotes, so the key reads like the code and ``x["0"]`` is not ``x[0]``."""
    if isinstance(literal, str):
        return '"' + literal.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(literal)


def words_of(expr: ast.AST, in_subscript: bool = False) -> list[str]:
    """Identifier words of an expression, and string keys (`loaders["val"]`): what it iterates.

    Other string literals do not count: `for stage in ("fit", "validate")` iterates names.
    """
    words: list[str] = []
    if isinstance(expr, ast.Name):
        words.extend(identifier_words(expr.id))
    elif isinstance(expr, ast.Attribute):
        words.extend(words_of(expr.value, in_subscript))
        words.extend(identifier_words(expr.attr))
    elif isinstance(expr, ast.Constant):
        if in_subscript and isinstance(expr.value, str):
            words.extend(identifier_words(expr.value))
    elif isinstance(expr, ast.Subscript):
        words.extend(words_of(expr.value, in_subscript))
        words.extend(words_of(expr.slice, True))
    else:
        for child in ast.iter_child_nodes(expr):
            words.extend(words_of(child, in_subscript))
    return words
