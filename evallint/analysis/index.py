"""Phase 1: turn one parsed file into its plain-data summary (``ir.FileIndex``).

The index reads CPython's ``ast`` (an order of magnitude cheaper than libcst,
which evallint keeps for fixes) and keeps only what mode and grad analysis
needs: calls in evaluation order, assignments between references, control flow,
``with`` items, definitions and imports. Every recorded node gets an ordinal;
``FileIndex.span`` gives each ordinal's source span, so positions cost nothing
later and fixes can find the same node in libcst's tree by its start.
"""

from __future__ import annotations

import ast
from array import array

from evallint.analysis import ir, redefinitions
from evallint.analysis.ast_shapes import NO_LITERAL, dict_display, frozen_params_of, item_written, literal_defaults, slice_source
from evallint.analysis.ast_shapes import partly_frozen_params_of
from evallint.analysis.ast_shapes import literal_of, parameter_names, target_names
from evallint.analysis.expression_text import condition_of, short_code
from evallint.analysis.names import chain_of, identifier_words, index_text, key_of_chain, words_of
from evallint.analysis.index_comprehensions import ComprehensionLowering
from evallint.analysis.index_scope import Scope
from evallint.analysis.torch_api import MODE_METHODS, WRAPPED_MODULE_ATTRS, WRAPPER_CALL_NAMES

# One empty set for every function that binds no names by import (nearly all): each frozenset is
# an object of its own, in memory and in the pickle that carries the index.
_NO_NAMES: frozenset[str] = frozenset()
MAX_IR_DEPTH = 100


class Indexer(ComprehensionLowering):
    """Builds the ``FileIndex`` of one module. One instance per file."""

    def __init__(self, path: str, module_name: str, is_package: bool) -> None:
        self.path = path
        self.module_name = module_name
        self.is_package = is_package
        self.spans: list[int] = []  # four per node, see ``ir.FileIndex.spans``
        self.kinds: list[str] = []
        self.functions: list[ir.FunctionInfo] = []
        self.classes: list[ir.ClassInfo] = []
        self.imports: list[ir.Import] = []
        self.scope = Scope("<module>", None, None)
        self.depth = 0
        # Values are immutable: one object per distinct reference or literal in a file, which the
        # pickle that carries the index back from a worker then writes once.
        self._refs: dict[str, ir.RefValue] = {}
        self._consts: dict[tuple[type, object], ir.ConstValue] = {}

    def ref(self, key: str) -> ir.RefValue:
        value = self._refs.get(key)
        if value is None:
            value = self._refs[key] = ir.RefValue(key)
        return value

    def const(self, literal: object) -> ir.ConstValue:
        # Keyed by type too: True == 1 == 1.0 are different literals.
        key = (type(literal), literal)
        value = self._consts.get(key)
        if value is None:
            value = self._consts[key] = ir.ConstValue(literal)
        return value

    def number(self, node: ast.AST, anchor: ast.AST | None = None) -> int:
        """A new ordinal for ``node``, remembering where it is (``anchor`` gives the span if set)."""
        located = anchor if anchor is not None else node
        try:
            line = located.lineno
            self.spans += (line, located.col_offset, located.end_lineno or line, located.end_col_offset or 0)
        except AttributeError:  # the module, or a node without a position
            line = getattr(located, "lineno", 1)
            self.spans += (
                line, getattr(located, "col_offset", 0), getattr(located, "end_lineno", line) or line,
                getattr(located, "end_col_offset", 0) or 0,
            )
        self.kinds.append(type(node).__name__)
        return len(self.kinds) - 1

    # -- entry point ---------------------------------------------------------------

    def index(self, module: ast.Module) -> ir.FileIndex:
        root = self.number(module)
        body = self.block(module.body)
        module_scope = self.scope
        self.functions.insert(
            0,
            ir.FunctionInfo(
                qualname="<module>",
                name="<module>",
                node=root,
                params=(),
                decorators=(),
                body=body,
                local_names=frozenset(module_scope.assigned),
                class_name=None,
                parent=None,
                is_generator=False,
                is_async=False,
                item_writes=frozenset(module_scope.item_writes),
            ),
        )
        functions, classes = redefinitions.separate(self.functions, self.classes)
        return ir.FileIndex(
            path=self.path,
            module=self.module_name,
            is_package=self.is_package,
            imports=tuple(self.imports),
            functions=tuple(functions),
            classes=tuple(classes),
            spans=array("i", self.spans),
            kinds=tuple(self.kinds),
        )

    # -- statements ----------------------------------------------------------------

    def block(self, statements: list[ast.stmt]) -> tuple[ir.Stmt, ...]:
        self.enter()
        out: list[ir.Stmt] = []
        for statement in statements:
            self.statement(statement, out)
        self.depth -= 1
        return tuple(out)

    def enter(self) -> None:
        """One level deeper; past MAX_IR_DEPTH the file is reported, not analysed (walks recurse)."""
        self.depth += 1
        if self.depth > MAX_IR_DEPTH:
            raise RecursionError(f"more than {MAX_IR_DEPTH} nested blocks or conditional expressions")

    def statement(self, node: ast.stmt, out: list[ir.Stmt]) -> None:
        kind = type(node)
        if kind is ast.Expr:
            self.expression_statement(node.value, out)
        elif kind is ast.Assign:
            value, display, sliced = self.value(node.value, out), dict_display(node.value), slice_source(node.value)
            for target in node.targets:
                self.assign(target, value, out, node, display, sliced)
        elif kind is ast.AnnAssign:
            if node.value is not None:
                self.assign(node.target, self.value(node.value, out), out, node)
        elif kind is ast.AugAssign:
            value = self.value(node.value, out)
            target = chain_of(node.target)
            # `loss += criterion(out, y)`: the total is computed from the old total and the new term.
            self.assign(node.target, ir.mix((self.ref(key_of_chain(target)) if target else ir.OTHER, value)), out, node)
        elif kind is ast.If:
            self.if_statement(node, out)
        elif kind in (ast.For, ast.AsyncFor):
            self.for_statement(node, out)
        elif kind is ast.While:
            self.while_statement(node, out)
        elif kind in (ast.With, ast.AsyncWith):
            self.with_statement(node, out)
        elif kind is ast.Try or type(node).__name__ == "TryStar":
            self.try_statement(node, out)
        elif kind in (ast.FunctionDef, ast.AsyncFunctionDef):
            self.function_def(node)
            self.scope.assigned.add(node.name)
        elif kind is ast.ClassDef:
            self.class_def(node)
            self.scope.assigned.add(node.name)
        elif kind is ast.Return:
            value = self.value(node.value, out) if node.value is not None else ir.OTHER
            out.append(ir.Return(self.number(node), value))
        elif kind is ast.Raise:
            if node.exc is not None:
                self.value(node.exc, out)
            out.append(ir.Raise(self.number(node)))
        elif kind is ast.Break:
            out.append(ir.Break(self.number(node)))
        elif kind is ast.Continue:
            out.append(ir.Continue(self.number(node)))
        elif kind in (ast.Global, ast.Nonlocal):
            self.scope.declared_global.update(node.names)
        elif kind is ast.Import:
            for alias in node.names:
                if alias.asname is not None:
                    local = alias.asname
                    self.imports.append(ir.Import(local, alias.name))
                else:
                    local = alias.name.split(".")[0]
                    self.imports.append(ir.Import(local, local))
                self.scope.assigned.add(local)
                self.scope.imported.add(local)
        elif kind is ast.ImportFrom:
            self.import_from(node)
        elif kind is ast.Match:
            self.match_statement(node, out)
        elif kind is ast.Delete:
            self.scope.item_writes.update(*map(item_written, node.targets))
            self.generic(node, out)
        elif kind is ast.Assert:  # as ``generic`` would, without its walk over the fields
            self.value(node.test, out)
            if node.msg is not None:
                self.value(node.msg, out)
        else:
            self.generic(node, out)

    def expression_statement(self, expr: ast.expr, out: list[ir.Stmt]) -> None:
        if isinstance(expr, ast.Attribute) and expr.attr in MODE_METHODS:
            receiver = self.value(expr.value, out)
            out.append(ir.BareAttribute(self.number(expr), receiver.key if isinstance(receiver, ir.RefValue) else None, expr.attr))
            return
        if isinstance(expr, ast.Call):
            self.call(expr, out, statement=True)
            return
        self.value(expr, out)

    def assign(self, target: ast.expr, value: ir.Value, out: list[ir.Stmt], node: ast.AST, display=None, sliced=None) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            targets: list[str | None] = []
            for element in target.elts:
                self.scope.item_writes |= item_written(element)
                chain = chain_of(element) if not isinstance(element, ast.Starred) else None
                targets.append(chain)
                self._note_assigned(chain)
                if isinstance(element, ast.Starred):
                    for name in target_names(element):
                        self.scope.assigned.add(name)
            out.append(ir.Assign(self.number(node), tuple(targets), value))
            return
        if isinstance(target, ast.Subscript):
            self.scope.item_writes |= item_written(target)
            self.value(target, out)
        chain = chain_of(target)
        self._note_assigned(chain)
        out.append(ir.Assign(self.number(node), (chain,), value, display if chain is not None else None, sliced if chain is not None else None))

    def _note_assigned(self, chain: str | None) -> None:
        if chain and "." not in chain:
            self.scope.assigned.add(chain)

    def if_statement(self, node: ast.If, out: list[ir.Stmt]) -> None:
        cond = self.test_condition(node.test, out)
        body = self.block(node.body)
        orelse = self.block(node.orelse)
        out.append(ir.If(self.number(node), cond, body, orelse))

    def for_statement(self, node: ast.For | ast.AsyncFor, out: list[ir.Stmt]) -> None:
        source = self.value(node.iter, out)
        targets = target_names(node.target)
        self.scope.assigned.update(targets)
        loop_node = self.number(node)
        opened = self.scope.open_loop(node.target, node.iter, targets)
        try:
            body = self.block(node.body)
        finally:
            over_entries_of = self.scope.close_loop(opened)
        orelse = self.block(node.orelse)
        out.append(
            ir.Loop(
                node=loop_node,
                is_while=False,
                infinite=False,
                iter_words=tuple(words_of(node.iter)),
                iter_text=short_code(node.iter),
                targets=tuple(targets),
                body=body,
                orelse=orelse,
                frozen_params_of=frozen_params_of(node),
                partly_frozen_params_of=partly_frozen_params_of(node),
                source=ir.mix((source,)),
                over_entries_of=over_entries_of,
            )
        )

    def while_statement(self, node: ast.While, out: list[ir.Stmt]) -> None:
        test_events: list[ir.Stmt] = []
        self.value(node.test, test_events)
        out.extend(test_events)
        literal = literal_of(node.test)
        infinite = literal is True or (isinstance(literal, int) and not isinstance(literal, bool) and literal != 0)
        loop_node = self.number(node)
        body = self.block(node.body) + tuple(test_events)
        orelse = self.block(node.orelse)
        out.append(
            ir.Loop(loop_node, True, infinite, tuple(words_of(node.test)), short_code(node.test), (), body, orelse)
        )

    def with_statement(self, node: ast.With | ast.AsyncWith, out: list[ir.Stmt]) -> None:
        items: list[ir.WithItem] = []
        for item in node.items:
            expr = item.context_expr
            target = None
            if item.optional_vars is not None:
                target = chain_of(item.optional_vars)
                self.scope.assigned.update(target_names(item.optional_vars))
            if isinstance(expr, ast.Call):
                call = self.call(expr, out, emit=False)
                items.append(ir.WithItem(self.number(item, expr), call, None, target))
            else:
                chain = chain_of(expr)
                if chain is None:
                    self.value(expr, out)
                items.append(ir.WithItem(self.number(item, expr), None, chain, target))
        with_node = self.number(node)
        out.append(ir.With(with_node, tuple(items), self.block(node.body)))

    def try_statement(self, node: ast.Try, out: list[ir.Stmt]) -> None:
        try_node = self.number(node)
        body = self.block(node.body)
        handlers = []
        for handler in node.handlers:
            if handler.name:
                self.scope.assigned.add(handler.name)
            handlers.append(self.block(handler.body))
        orelse = self.block(node.orelse)
        finalbody = self.block(node.finalbody)
        out.append(ir.Try(try_node, body, tuple(handlers), orelse, finalbody))

    def match_statement(self, node: ast.Match, out: list[ir.Stmt]) -> None:
        self.value(node.subject, out)
        match_node = self.number(node)
        # Cases become a chain of opaque branches: any one (or none) of them runs.
        orelse: tuple[ir.Stmt, ...] = ()
        for case in reversed(node.cases):
            orelse = (ir.If(match_node, None, self.block(case.body), orelse),)
        out.extend(orelse)

    def import_from(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        for alias in node.names:
            if alias.name == "*":
                # Which names it binds depends on the other module: the project index expands it.
                self.imports.append(ir.Import(ir.STAR_IMPORT, base, node.level))
                continue
            local = alias.asname or alias.name
            target = f"{base}.{alias.name}" if base else alias.name
            self.imports.append(ir.Import(local, target, node.level))
            self.scope.assigned.add(local)
            self.scope.imported.add(local)

    # -- definitions -----------------------------------------------------------------

    def function_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        name = node.name
        outer = self.scope
        in_class_body = outer.class_name is not None and outer.qualname == outer.class_name
        if outer.qualname == "<module>":
            qualname, parent = name, None
        elif in_class_body:
            qualname, parent = f"{outer.qualname}.{name}", None
        else:
            qualname, parent = f"{outer.qualname}.<locals>.{name}", outer.qualname
        class_name = outer.class_name if in_class_body else None
        def_node = self.number(node)
        decorators = tuple(self.decorator(d) for d in node.decorator_list)
        params = parameter_names(node.args)
        self.scope = Scope(qualname, None, parent)
        self.scope.assigned.update(params)
        try:
            body = self.block(node.body)
            scope = self.scope
        finally:
            self.scope = outer
        self.functions.append(
            ir.FunctionInfo(
                qualname=qualname,
                name=name,
                node=def_node,
                params=params,
                decorators=decorators,
                body=body,
                local_names=frozenset(scope.assigned - scope.declared_global) or _NO_NAMES,
                class_name=class_name,
                parent=parent,
                is_generator=scope.is_generator,
                is_async=isinstance(node, ast.AsyncFunctionDef),
                imported_names=frozenset(scope.imported) if scope.imported else _NO_NAMES,
                positional=len(node.args.posonlyargs) + len(node.args.args),
                defaults=literal_defaults(node.args),
                item_writes=frozenset(scope.item_writes) if scope.item_writes else _NO_NAMES,
            )
        )

    def decorator(self, expr: ast.expr) -> ir.Decorator:
        if isinstance(expr, ast.Call):
            args = tuple(self.value(arg, []) for arg in expr.args)
            return ir.Decorator(chain_of(expr.func), True, args)
        return ir.Decorator(chain_of(expr), False)

    def class_def(self, node: ast.ClassDef) -> None:
        outer = self.scope
        name = node.name
        qualname = name if outer.qualname == "<module>" else f"{outer.qualname}.<locals>.{name}"
        class_node = self.number(node)
        bases = tuple(chain for chain in (chain_of(base) for base in node.bases) if chain)
        methods = []
        self.scope = Scope(qualname, qualname, outer.qualname if outer.qualname != "<module>" else None)
        try:
            for statement in node.body:
                if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    methods.append(statement.name)
                    self.function_def(statement)
                elif isinstance(statement, ast.ClassDef):
                    self.class_def(statement)
        finally:
            self.scope = outer
        self.classes.append(ir.ClassInfo(qualname, name, class_node, bases, tuple(methods)))

    # -- expressions -------------------------------------------------------------------

    def value(self, expr: ast.expr, out: list[ir.Stmt]) -> ir.Value:
        """Append the events of evaluating ``expr`` to ``out``; return what it evaluates to."""
        kind = type(expr)
        if kind is ast.Call:
            return _call_result(self.call(expr, out))
        if kind is ast.Name:  # (``ref`` inlined for the commonest expression; a RefValue is true)
            return self._refs.get(expr.id) or self.ref(expr.id)
        if kind is ast.Attribute:
            chain = chain_of(expr)
            if chain is not None:
                if expr.attr == "training":
                    inner = chain_of(expr.value)
                    if inner is not None:
                        return ir.TrainingFlagValue(key_of_chain(inner))
                return self.ref(key_of_chain(chain))
            # An attribute of a call result: `unwrap_model(model).module`, `foo().bar`.
            receiver = self.value(expr.value, out)
            if isinstance(receiver, ir.RefValue) and expr.attr in WRAPPED_MODULE_ATTRS:
                return receiver
            if isinstance(receiver, ir.RefValue):
                return self.ref(f"{receiver.key}.{expr.attr}")
            return ir.mix((receiver,))
        if kind is ast.Constant:
            literal = literal_of(expr)
            return self.const(literal) if literal is not NO_LITERAL else ir.OTHER
        if kind is ast.Subscript:
            base = self.value(expr.value, out)
            index_literal = literal_of(expr.slice)
            index = self.value(expr.slice, out) if index_literal is NO_LITERAL else ir.OTHER
            if isinstance(base, ir.RefValue) and index_literal is not NO_LITERAL:
                return self.ref(f"{base.key}[{index_text(index_literal)}]")
            return ir.mix((base, index))
        if kind is ast.BinOp:  # arithmetic on tensors: by far the most common expression not modelled
            return ir.mix((self.value(expr.left, out), self.value(expr.right, out)))
        # A comparison or a boolean operation evaluates to a condition, but only a branch's test
        # and a call's arguments (`model.train(phase == "train")`) are read as one: those two ask
        # for it (``condition``), instead of every nested operand, assert and assignment rendering
        # its text (a seventh of the index's time, mostly in the fallback to ast.unparse).
        if kind is ast.Compare:
            return ir.mix([self.value(expr.left, out), *(self.value(item, out) for item in expr.comparators)])
        if kind is ast.BoolOp:
            return ir.mix([self.value(operand, out) for operand in expr.values])
        if kind is ast.UnaryOp:
            return ir.mix((self.value(expr.operand, out),))
        if kind in (ast.Tuple, ast.List):
            return ir.TupleValue(tuple(self.value(element, out) for element in expr.elts))
        if kind is ast.IfExp:
            cond = self.test_condition(expr.test, out)
            body: list[ir.Stmt] = []
            orelse: list[ir.Stmt] = []
            self.enter()
            chosen = (self.value(expr.body, body), self.value(expr.orelse, orelse))
            self.depth -= 1
            if body or orelse:
                out.append(ir.If(self.number(expr), cond, tuple(body), tuple(orelse)))
            return ir.mix(chosen)
        if kind is ast.NamedExpr:
            value = self.value(expr.value, out)
            self.assign(expr.target, value, out, expr)
            return value
        if kind in (ast.Yield, ast.YieldFrom):
            if expr.value is not None:
                self.value(expr.value, out)
            self.scope.is_generator = True
            out.append(ir.Yield(self.number(expr)))
            return ir.OTHER
        if kind is ast.Await:
            return self.value(expr.value, out)
        if kind is ast.Lambda:
            return ir.LAMBDA
        if kind is ast.Starred:
            return ir.mix((self.value(expr.value, out),))
        # The common expressions nothing models, evaluated as ``generic`` would (children in
        # field order) without its generic walk over the fields.
        if kind is ast.Dict:
            for key in expr.keys:
                if key is not None:  # `**mapping`
                    self.value(key, out)
            return ir.mix([self.value(item, out) for item in expr.values])
        if kind is ast.JoinedStr:
            for part in expr.values:
                if type(part) is ast.FormattedValue:
                    self.value(part.value, out)
                    if part.format_spec is not None:
                        self.value(part.format_spec, out)
            return ir.OTHER
        if kind in _COMPREHENSIONS:
            return self.comprehension(expr, out)
        self.generic(expr, out)
        return ir.OTHER

    def generic(self, node: ast.AST, out: list[ir.Stmt]) -> None:
        """Evaluate the expressions below a node we do not model, in field order."""
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.value(child, out)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.statement(child, out)
            elif isinstance(child, ast.stmt):
                self.statement(child, out)
            elif not isinstance(child, (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)):
                self.generic(child, out)

    def call(self, node: ast.Call, out: list[ir.Stmt], statement: bool = False, emit: bool = True) -> ir.Call:
        func = node.func
        receiver: ir.Value | None = None
        method: str | None = None
        if isinstance(func, ast.Attribute):
            method = func.attr
            receiver = self.every_entry(func.value) if method in MODE_METHODS else None
            if receiver is None:
                receiver = self.value(func.value, out)
        elif not isinstance(func, ast.Name):
            # `getattr(model, name)()`, `fns[i](x)`: the callee is a computed value.
            receiver = self.value(func, out)
        args: list[ir.Value] = []
        unpacked = False  # `f(*xs)` or `f(**kw)`
        for arg in node.args:
            value = self.value(arg, out)
            if type(arg) in _CONDITION_EXPRESSIONS:
                value = condition_of(arg) or ir.OTHER
            elif type(arg) is ast.Starred:
                value, unpacked = ir.OTHER, True
            args.append(value)
        kwargs: list[tuple[str, ir.Value]] = []
        for keyword in node.keywords:
            value = self.value(keyword.value, out)
            if keyword.arg is None:
                unpacked = True
                continue
            if type(keyword.value) in _CONDITION_EXPRESSIONS:
                value = condition_of(keyword.value) or ir.OTHER
            kwargs.append((keyword.arg, value))
        chain = chain_of(func)
        if chain is None and type(func) is ast.Subscript and isinstance(receiver, ir.RefValue):
            # `self.models["gen"](x)`: the callee is the entry that key names, as a name would be.
            chain, receiver = receiver.key, None
        ordinal = self.number(node)
        if chain == "reveal_state":
            reveal = ir.Reveal(ordinal, args[0].key if args and isinstance(args[0], ir.RefValue) else None)
            if emit:
                out.append(reveal)
            return ir.Call(ordinal, chain, None, None, (), ())
        call = ir.Call(ordinal, chain, receiver, method, tuple(args), tuple(kwargs), statement, unpacked)
        if emit:
            out.append(call)
        return call

    def every_entry(self, expr: ast.expr) -> ir.RefValue | None:
        """``models[k]`` in ``for k in models.keys(): models[k].eval()``: the loop switches every
        entry, so the switch is the container's (only a switch: an entry read is one entry).

        ``for m in models: m.eval()`` switches every item too: the switch stays the item's (``m``
        keeps the mode the last item was given, as after any loop), but the loop counts as run,
        as an empty list leaves no item in the other mode."""
        if type(expr) is ast.Name:
            if expr.id in self.scope.every_key:
                self.scope.every_key_used.add(expr.id)
            return None
        if type(expr) is not ast.Subscript or type(expr.slice) is not ast.Name:
            return None
        chain = chain_of(expr.value)
        if chain is None or self.scope.every_key.get(expr.slice.id) != key_of_chain(chain):
            return None
        self.scope.every_key_used.add(expr.slice.id)
        return self.ref(key_of_chain(chain))

    def test_condition(self, test: ast.expr, out: list[ir.Stmt]) -> ir.CondValue | None:
        """Append the events of evaluating a branch's test; return the test kept symbolically."""
        self.value(test, out)
        return condition_of(test)

# -- helpers ------------------------------------------------------------------------------

_COMPREHENSIONS = frozenset({ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp})

# The expressions that evaluate to a condition (see ``Indexer.value``).
_CONDITION_EXPRESSIONS = frozenset({ast.Compare, ast.BoolOp, ast.UnaryOp})


def _call_result(call: ir.Call) -> ir.Value:
    """What a call evaluates to, when it keeps a reference's identity (wrappers, `.to()`)."""
    name = call.func.split(".")[-1] if call.func is not None else None
    if name in WRAPPER_CALL_NAMES and call.args:
        first = call.args[0]
        # `get_model(model)` unwraps; `get_model(name, params)` and `get_model(cfg)` build one.
        if isinstance(first, ir.RefValue) and (name != "get_model" or _unwraps(call, first.key)):
            return first
    return ir.CallValue(call.node)


def _unwraps(call: ir.Call, key: str) -> bool:
    return len(call.args) == 1 and not call.kwargs and identifier_words(key)[-1:] in (["model"], ["net"], ["module"])


def index_module(path: str, module_name: str, is_package: bool, module: ast.Module) -> ir.FileIndex:
    return Indexer(path, module_name, is_package).index(module)
