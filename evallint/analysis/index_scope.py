"""What the indexer knows about the function (or class body, or module) it is reading: its
names, and the loops over every key of a container that are open around the current statement."""

from __future__ import annotations

import ast

from evallint.analysis.ast_shapes import keys_iterated


class Scope:
    def __init__(self, qualname: str, class_name: str | None, parent: str | None) -> None:
        self.qualname = qualname
        self.class_name = class_name
        self.parent = parent
        self.assigned: set[str] = set()
        self.declared_global: set[str] = set()
        self.imported: set[str] = set()
        self.item_writes: set[str] = set()
        self.is_generator = False
        # Loop variables that run over every key of a container (`for k in models.keys()`), with
        # the container's key: `models[k]` in that loop is each entry in turn.
        self.every_key: dict[str, str] = {}
        self.every_key_used: set[str] = set()

    def open_loop(self, target: ast.expr, iterable: ast.expr, targets) -> tuple:
        """Enter a loop's body: its variable runs over every key of a container, or shadows one that did."""
        saved = self.every_key
        container = keys_iterated(iterable) if type(target) is ast.Name else None
        if container is not None:
            self.every_key = {**saved, target.id: container}
        else:
            self.every_key = {k: v for k, v in saved.items() if k not in targets}
        return saved, container, target

    def close_loop(self, opened: tuple) -> str | None:
        """Leave it: the container whose every entry its body switched, if any."""
        saved, container, target = opened
        self.every_key = saved
        if container is None or target.id not in self.every_key_used:
            return None
        self.every_key_used.discard(target.id)
        return container
