"""Comprehensions lowered as the ``for`` statements they stand for (a mixin of ``index.Indexer``).

``[model(x) for x, _ in test_loader if ok(x)]`` is a loop over test data like any other: one
``ir.Loop`` per ``for`` clause (nested), its targets bound to the items of its iterable, its
filters guarding the rest, the element in the innermost body.
"""

from __future__ import annotations

import ast

from evallint.analysis import ir
from evallint.analysis.ast_shapes import target_names
from evallint.analysis.expression_text import short_code
from evallint.analysis.names import words_of


class ComprehensionLowering:
    """Needs the indexer's ``value``, ``test_condition``, ``number``, ``enter``, ``depth`` and ``scope``."""

    def comprehension(self, expr: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp, out: list[ir.Stmt]) -> ir.Value:
        """``[model(x) for x, _ in test_loader if ok(x)]`` runs as the ``for`` statement it stands
        for: one loop per ``for`` clause (nested), its targets bound to the items of its iterable,
        its filters guarding the rest, the element in the innermost body. Its value is computed
        from the elements and the iterables.

        Scoping: Python gives a comprehension's targets a scope of their own; here they are the
        enclosing function's keys, as a ``for`` statement's would be, but never its local names
        (so a module-level ``model`` read elsewhere in the function stays the global one). A name
        shared with an enclosing variable (`x` reused) is only widened, never replaced, by what
        the loop binds: the walk joins the state from before the loop (the loop may not run) and
        the data flow adds the items to what the name held.
        """
        # The first iterable is evaluated in the enclosing scope, before anything else.
        iterables = [self.value(expr.generators[0].iter, out)]
        element = self._comprehension_loop(expr, 0, iterables, out)
        return ir.mix((element, *iterables))

    def _comprehension_loop(self, expr, index: int, iterables: list[ir.Value], out: list[ir.Stmt]) -> ir.Value:
        """The loop of the ``index``-th ``for`` clause (its iterable's value is ``iterables[index]``),
        appended to ``out``; returns the element's value."""
        generator = expr.generators[index]
        targets = target_names(generator.target)
        self.enter()
        opened = self.scope.open_loop(generator.target, generator.iter, targets)
        body: list[ir.Stmt] = []
        try:
            element = self._filtered(expr, index, 0, iterables, body)
        finally:
            over_entries_of = self.scope.close_loop(opened)
        self.depth -= 1
        if body:  # (a loop without events binds names nothing reads)
            out.append(
                ir.Loop(
                    node=self.number(generator, expr),
                    is_while=False,
                    infinite=False,
                    iter_words=tuple(words_of(generator.iter)),
                    iter_text=short_code(generator.iter),
                    targets=tuple(targets),
                    body=tuple(body),
                    orelse=(),
                    source=ir.mix((iterables[index],)),
                    over_entries_of=over_entries_of,
                )
            )
        return element

    def _filtered(self, expr, index: int, position: int, iterables: list[ir.Value], out: list[ir.Stmt]) -> ir.Value:
        """The ``if`` filters of a ``for`` clause from ``position`` on, each guarding the rest."""
        generator = expr.generators[index]
        if position < len(generator.ifs):
            condition = generator.ifs[position]
            cond = self.test_condition(condition, out)
            guarded: list[ir.Stmt] = []
            self.enter()
            element = self._filtered(expr, index, position + 1, iterables, guarded)
            self.depth -= 1
            if guarded:
                out.append(ir.If(self.number(condition), cond, tuple(guarded), ()))
            return element
        if index + 1 < len(expr.generators):
            iterables.append(self.value(expr.generators[index + 1].iter, out))
            return self._comprehension_loop(expr, index + 1, iterables, out)
        if type(expr) is ast.DictComp:
            self.value(expr.key, out)
            return self.value(expr.value, out)
        return self.value(expr.elt, out)
