"""Phase 1: turn one parsed file into its plain-data summary (``ir.FileIndex``).

The index keeps only what mode and grad analysis needs: calls in evaluation
order, assignments between references, control flow, ``with`` items,
definitions and imports. Every recorded node gets an ordinal from
``NodeNumbering``; running the index again over the same tree numbers the same
nodes the same way, which is how positions are found later for the few files
that have findings (``positions.py``).
"""

from __future__ import annotations

import dataclasses
import re

import libcst as cst

from evallint.analysis import ir
from evallint.analysis.torch_api import MODE_METHODS, WRAPPED_MODULE_ATTRS, WRAPPER_CALL_NAMES

_EMPTY_MODULE = cst.Module(body=[])
_WORD_SPLIT = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_MAX_CONDITION_TEXT = 200


def identifier_words(name: str) -> list[str]:
    """``valLoader`` -> ["val", "loader"]; ``test_dl2`` -> ["test", "dl", "2"]."""
    return [word.lower() for word in _WORD_SPLIT.findall(name)]


class NodeNumbering:
    """Hands out ordinals in visiting order; optionally remembers the nodes themselves."""

    def __init__(self, keep_nodes: bool = False) -> None:
        self.count = 0
        self.nodes: list[cst.CSTNode] | None = [] if keep_nodes else None

    def __call__(self, node: cst.CSTNode) -> int:
        ordinal = self.count
        self.count += 1
        if self.nodes is not None:
            self.nodes.append(node)
        return ordinal


def chain_of(expr: cst.BaseExpression) -> str | None:
    """``self.model.module`` -> "self.model.module"; anything but names and attributes -> None."""
    parts: list[str] = []
    while isinstance(expr, cst.Attribute):
        parts.append(expr.attr.value)
        expr = expr.value
    if not isinstance(expr, cst.Name):
        return None
    parts.append(expr.value)
    return ".".join(reversed(parts))


def key_of_chain(chain: str) -> str:
    """Drop wrapper hops: ``model.module.backbone`` -> ``model.backbone``."""
    parts = chain.split(".")
    kept = [parts[0]] + [part for part in parts[1:] if part not in WRAPPED_MODULE_ATTRS]
    return ".".join(kept)


def _literal(expr: cst.BaseExpression) -> object:
    if isinstance(expr, cst.Name) and expr.value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[expr.value]
    if isinstance(expr, cst.Integer):
        try:
            return int(expr.value, 0)
        except ValueError:
            return expr.value
    if isinstance(expr, cst.SimpleString):
        text = expr.value
        quote_start = min(i for i in (text.find("'"), text.find('"')) if i >= 0)
        prefix = text[:quote_start].lower()
        if "b" in prefix or "f" in prefix:
            return _NO_LITERAL
        body = text[quote_start:]
        quote = body[:3] if body[:3] in ('"""', "'''") else body[0]
        return body[len(quote) : -len(quote)]
    return _NO_LITERAL


_NO_LITERAL = object()


class _Scope:
    def __init__(self, qualname: str, class_name: str | None, parent: str | None) -> None:
        self.qualname = qualname
        self.class_name = class_name
        self.parent = parent
        self.assigned: set[str] = set()
        self.declared_global: set[str] = set()
        self.imported: set[str] = set()
        self.is_generator = False


class Indexer:
    """Builds the ``FileIndex`` of one module. One instance per file."""

    def __init__(self, path: str, module_name: str, is_package: bool, numbering: NodeNumbering | None = None) -> None:
        self.path = path
        self.module_name = module_name
        self.is_package = is_package
        self.number = numbering or NodeNumbering()
        self.functions: list[ir.FunctionInfo] = []
        self.classes: list[ir.ClassInfo] = []
        self.imports: list[ir.Import] = []
        self.scope = _Scope("<module>", None, None)

    # -- entry point ---------------------------------------------------------------

    def index(self, module: cst.Module) -> ir.FileIndex:
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
            ),
        )
        return ir.FileIndex(
            path=self.path,
            module=self.module_name,
            is_package=self.is_package,
            imports=tuple(self.imports),
            functions=tuple(self.functions),
            classes=tuple(self.classes),
            node_count=self.number.count,
            module_globals=frozenset(module_scope.assigned),
        )

    # -- statements ----------------------------------------------------------------

    def block(self, statements) -> tuple[ir.Stmt, ...]:
        out: list[ir.Stmt] = []
        for statement in statements:
            self.statement(statement, out)
        return tuple(out)

    def suite(self, suite: cst.BaseSuite | None) -> tuple[ir.Stmt, ...]:
        if suite is None:
            return ()
        if isinstance(suite, cst.SimpleStatementSuite):
            out: list[ir.Stmt] = []
            for small in suite.body:
                self.small_statement(small, out)
            return tuple(out)
        return self.block(suite.body)

    def statement(self, node: cst.CSTNode, out: list[ir.Stmt]) -> None:
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                self.small_statement(small, out)
        elif isinstance(node, cst.If):
            self.if_statement(node, out)
        elif isinstance(node, cst.For):
            self.for_statement(node, out)
        elif isinstance(node, cst.While):
            self.while_statement(node, out)
        elif isinstance(node, cst.With):
            self.with_statement(node, out)
        elif isinstance(node, (cst.Try, cst.TryStar)):
            self.try_statement(node, out)
        elif isinstance(node, cst.FunctionDef):
            self.function_def(node)
            self.scope.assigned.add(node.name.value)
        elif isinstance(node, cst.ClassDef):
            self.class_def(node)
            self.scope.assigned.add(node.name.value)
        elif isinstance(node, cst.Match):
            self.match_statement(node, out)
        else:
            self.generic(node, out)

    def small_statement(self, node: cst.BaseSmallStatement, out: list[ir.Stmt]) -> None:
        if isinstance(node, cst.Expr):
            self.expression_statement(node.value, out)
        elif isinstance(node, cst.Assign):
            value = self.value(node.value, out)
            for target in node.targets:
                self.assign(target.target, value, out, node)
        elif isinstance(node, cst.AnnAssign):
            if node.value is not None:
                value = self.value(node.value, out)
                self.assign(node.target, value, out, node)
        elif isinstance(node, cst.AugAssign):
            self.value(node.value, out)
            self.assign(node.target, ir.OTHER, out, node)
        elif isinstance(node, cst.Return):
            value = self.value(node.value, out) if node.value is not None else ir.OTHER
            out.append(ir.Return(self.number(node), value))
        elif isinstance(node, cst.Raise):
            if node.exc is not None:
                self.value(node.exc, out)
            out.append(ir.Raise(self.number(node)))
        elif isinstance(node, cst.Break):
            out.append(ir.Break(self.number(node)))
        elif isinstance(node, cst.Continue):
            out.append(ir.Continue(self.number(node)))
        elif isinstance(node, (cst.Global, cst.Nonlocal)):
            self.scope.declared_global.update(item.name.value for item in node.names)
        elif isinstance(node, cst.Import):
            for alias in node.names:
                dotted = _dotted(alias.name)
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    local = alias.asname.name.value
                    self.imports.append(ir.Import(local, dotted))
                else:
                    local = dotted.split(".")[0]
                    self.imports.append(ir.Import(local, local))
                self.scope.assigned.add(local)
                self.scope.imported.add(local)
        elif isinstance(node, cst.ImportFrom):
            self.import_from(node)
        else:
            self.generic(node, out)

    def expression_statement(self, expr: cst.BaseExpression, out: list[ir.Stmt]) -> None:
        if isinstance(expr, cst.Attribute) and expr.attr.value in MODE_METHODS:
            receiver = self.value(expr.value, out)
            out.append(ir.BareAttribute(self.number(expr), _key_or_none(receiver), expr.attr.value))
            return
        if isinstance(expr, cst.Call):
            self.call(expr, out, statement=True)
            return
        self.value(expr, out)

    def assign(self, target: cst.BaseExpression, value: ir.Value, out: list[ir.Stmt], node: cst.CSTNode) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            targets: list[str | None] = []
            for element in target.elements:
                inner = element.value
                chain = chain_of(inner) if not isinstance(element, cst.StarredElement) else None
                targets.append(chain)
                self._note_assigned(chain)
            out.append(ir.Assign(self.number(node), tuple(targets), value))
            return
        if isinstance(target, cst.Subscript):
            self.value(target, out)
        chain = chain_of(target)
        self._note_assigned(chain)
        out.append(ir.Assign(self.number(node), (chain,), value))

    def _note_assigned(self, chain: str | None) -> None:
        if chain and "." not in chain:
            self.scope.assigned.add(chain)

    def if_statement(self, node: cst.If, out: list[ir.Stmt]) -> None:
        self.value(node.test, out)
        cond = self.condition(node.test)
        body = self.suite(node.body)
        orelse: tuple[ir.Stmt, ...] = ()
        if isinstance(node.orelse, cst.If):
            nested: list[ir.Stmt] = []
            self.if_statement(node.orelse, nested)
            orelse = tuple(nested)
        elif isinstance(node.orelse, cst.Else):
            orelse = self.suite(node.orelse.body)
        out.append(ir.If(self.number(node), cond, body, orelse))

    def for_statement(self, node: cst.For, out: list[ir.Stmt]) -> None:
        self.value(node.iter, out)
        targets = _target_names(node.target)
        for name in targets:
            self.scope.assigned.add(name)
        loop_node = self.number(node)
        body = self.suite(node.body)
        orelse = self.suite(node.orelse.body) if node.orelse is not None else ()
        out.append(
            ir.Loop(
                node=loop_node,
                is_while=False,
                infinite=False,
                iter_words=tuple(_words_of(node.iter)),
                iter_text=_short_code(node.iter),
                targets=tuple(targets),
                body=body,
                orelse=orelse,
                frozen_params_of=_frozen_params_of(node),
            )
        )

    def while_statement(self, node: cst.While, out: list[ir.Stmt]) -> None:
        test_events: list[ir.Stmt] = []
        self.value(node.test, test_events)
        out.extend(test_events)
        literal = _literal(node.test)
        infinite = literal is True or (isinstance(literal, int) and not isinstance(literal, bool) and literal != 0)
        loop_node = self.number(node)
        body = self.suite(node.body) + tuple(test_events)
        orelse = self.suite(node.orelse.body) if node.orelse is not None else ()
        out.append(
            ir.Loop(loop_node, True, infinite, tuple(_words_of(node.test)), _short_code(node.test), (), body, orelse)
        )

    def with_statement(self, node: cst.With, out: list[ir.Stmt]) -> None:
        items: list[ir.WithItem] = []
        for item in node.items:
            expr = item.item
            target = None
            if item.asname is not None:
                target = chain_of(item.asname.name)
                for name in _target_names(item.asname.name):
                    self.scope.assigned.add(name)
            if isinstance(expr, cst.Call):
                call = self.call(expr, out, emit=False)
                items.append(ir.WithItem(self.number(item), call, None, target))
            else:
                chain = chain_of(expr)
                if chain is None:
                    self.value(expr, out)
                items.append(ir.WithItem(self.number(item), None, chain, target))
        with_node = self.number(node)
        out.append(ir.With(with_node, tuple(items), self.suite(node.body)))

    def try_statement(self, node: cst.Try | cst.TryStar, out: list[ir.Stmt]) -> None:
        try_node = self.number(node)
        body = self.suite(node.body)
        handlers = []
        for handler in node.handlers:
            if handler.name is not None:
                for name in _target_names(handler.name.name):
                    self.scope.assigned.add(name)
            handlers.append(self.suite(handler.body))
        orelse = self.suite(node.orelse.body) if node.orelse is not None else ()
        finalbody = self.suite(node.finalbody.body) if node.finalbody is not None else ()
        out.append(ir.Try(try_node, body, tuple(handlers), orelse, finalbody))

    def match_statement(self, node: cst.Match, out: list[ir.Stmt]) -> None:
        self.value(node.subject, out)
        match_node = self.number(node)
        # Cases become a chain of opaque branches: any one (or none) of them runs.
        orelse: tuple[ir.Stmt, ...] = ()
        for case in reversed(node.cases):
            orelse = (ir.If(match_node, None, self.suite(case.body), orelse),)
        out.extend(orelse)

    def import_from(self, node: cst.ImportFrom) -> None:
        level = len(node.relative)
        base = _dotted(node.module) if node.module is not None else ""
        if isinstance(node.names, cst.ImportStar):
            return
        for alias in node.names:
            name = _dotted(alias.name)
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            target = f"{base}.{name}" if base else name
            self.imports.append(ir.Import(local, target, level))
            self.scope.assigned.add(local)
            self.scope.imported.add(local)

    # -- definitions -----------------------------------------------------------------

    def function_def(self, node: cst.FunctionDef) -> None:
        name = node.name.value
        outer = self.scope
        if outer.qualname == "<module>":
            qualname, parent = name, None
        elif outer.class_name is not None and outer.qualname == outer.class_name:
            qualname, parent = f"{outer.qualname}.{name}", None
        else:
            qualname, parent = f"{outer.qualname}.<locals>.{name}", outer.qualname
        if outer.class_name is not None and outer.qualname == outer.class_name:
            class_name = outer.class_name
        else:
            class_name = None
        def_node = self.number(node)
        decorators = tuple(self.decorator(d.decorator) for d in node.decorators)
        params = _parameter_names(node.params)
        self.scope = _Scope(qualname, None, parent)
        self.scope.assigned.update(params)
        try:
            body = self.suite(node.body)
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
                local_names=frozenset(scope.assigned - scope.declared_global),
                class_name=class_name,
                parent=parent,
                is_generator=scope.is_generator,
                is_async=node.asynchronous is not None,
                imported_names=frozenset(scope.imported),
            )
        )

    def decorator(self, expr: cst.BaseExpression) -> ir.Decorator:
        if isinstance(expr, cst.Call):
            args = tuple(self.value(arg.value, []) for arg in expr.args)
            return ir.Decorator(chain_of(expr.func), True, args)
        return ir.Decorator(chain_of(expr), False)

    def class_def(self, node: cst.ClassDef) -> None:
        outer = self.scope
        name = node.name.value
        qualname = name if outer.qualname == "<module>" else f"{outer.qualname}.<locals>.{name}"
        class_node = self.number(node)
        bases = tuple(chain for chain in (chain_of(arg.value) for arg in node.bases if arg.keyword is None) if chain)
        methods = []
        self.scope = _Scope(qualname, qualname, outer.qualname if outer.qualname != "<module>" else None)
        try:
            for statement in _suite_statements(node.body):
                if isinstance(statement, cst.FunctionDef):
                    methods.append(statement.name.value)
                    self.function_def(statement)
                elif isinstance(statement, cst.ClassDef):
                    self.class_def(statement)
        finally:
            self.scope = outer
        self.classes.append(ir.ClassInfo(qualname, name, class_node, bases, tuple(methods)))

    # -- expressions -------------------------------------------------------------------

    def value(self, expr: cst.BaseExpression, out: list[ir.Stmt]) -> ir.Value:
        """Append the events of evaluating ``expr`` to ``out``; return what it evaluates to."""
        if isinstance(expr, cst.Call):
            return _call_result(self.call(expr, out))
        if isinstance(expr, (cst.Name, cst.Attribute)):
            chain = chain_of(expr)
            if chain is not None:
                literal = _literal(expr)
                if literal is not _NO_LITERAL:
                    return ir.ConstValue(literal)
                if isinstance(expr, cst.Attribute) and expr.attr.value == "training":
                    inner = chain_of(expr.value)
                    if inner is not None:
                        return ir.TrainingFlagValue(key_of_chain(inner))
                return ir.RefValue(key_of_chain(chain))
            # An attribute of a call result: `unwrap_model(model).module`, `foo().bar`.
            receiver = self.value(expr.value, out)  # type: ignore[union-attr]
            if isinstance(receiver, ir.RefValue) and expr.attr.value in WRAPPED_MODULE_ATTRS:  # type: ignore[union-attr]
                return receiver
            if isinstance(receiver, ir.RefValue):
                return ir.RefValue(f"{receiver.key}.{expr.attr.value}")  # type: ignore[union-attr]
            return ir.OTHER
        literal = _literal(expr)
        if literal is not _NO_LITERAL:
            return ir.ConstValue(literal)
        if isinstance(expr, cst.Subscript):
            base = self.value(expr.value, out)
            index_literal = _NO_LITERAL
            if len(expr.slice) == 1 and isinstance(expr.slice[0].slice, cst.Index):
                index_expr = expr.slice[0].slice.value
                index_literal = _literal(index_expr)
                if index_literal is _NO_LITERAL:
                    self.value(index_expr, out)
            else:
                for element in expr.slice:
                    self.generic(element, out)
            if isinstance(base, ir.RefValue) and index_literal is not _NO_LITERAL:
                return ir.RefValue(f"{base.key}[{index_literal}]")
            return ir.OTHER
        if isinstance(expr, (cst.Comparison, cst.BooleanOperation)):
            self.generic(expr, out)
            return self.condition(expr) or ir.OTHER
        if isinstance(expr, cst.UnaryOperation):
            self.value(expr.expression, out)
            return self.condition(expr) or ir.OTHER
        if isinstance(expr, (cst.Tuple, cst.List)):
            items = []
            for element in expr.elements:
                items.append(self.value(element.value, out))
            return ir.TupleValue(tuple(items))
        if isinstance(expr, cst.IfExp):
            self.value(expr.test, out)
            body: list[ir.Stmt] = []
            orelse: list[ir.Stmt] = []
            self.value(expr.body, body)
            self.value(expr.orelse, orelse)
            if body or orelse:
                out.append(ir.If(self.number(expr), self.condition(expr.test), tuple(body), tuple(orelse)))
            return ir.OTHER
        if isinstance(expr, cst.NamedExpr):
            value = self.value(expr.value, out)
            self.assign(expr.target, value, out, expr)
            return value
        if isinstance(expr, (cst.Yield,)):
            if expr.value is not None and isinstance(expr.value, cst.BaseExpression):
                self.value(expr.value, out)
            elif isinstance(expr.value, cst.From):
                self.value(expr.value.item, out)
            self.scope.is_generator = True
            out.append(ir.Yield(self.number(expr)))
            return ir.OTHER
        if isinstance(expr, cst.Await):
            return self.value(expr.expression, out)
        if isinstance(expr, cst.Lambda):
            return ir.OTHER
        self.generic(expr, out)
        return ir.OTHER

    def generic(self, node: cst.CSTNode, out: list[ir.Stmt]) -> None:
        """Evaluate the expressions below a node we do not model, in field order."""
        for child in _child_nodes(node):
            if isinstance(child, cst.BaseExpression):
                self.value(child, out)
            elif isinstance(child, (cst.FunctionDef, cst.ClassDef)):
                self.statement(child, out)
            else:
                self.generic(child, out)

    def call(self, node: cst.Call, out: list[ir.Stmt], statement: bool = False, emit: bool = True) -> ir.Call:
        func = node.func
        receiver: ir.Value | None = None
        method: str | None = None
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            receiver = self.value(func.value, out)
        elif not isinstance(func, cst.Name):
            # `getattr(model, name)()`, `fns[i](x)`: the callee is a computed value.
            receiver = self.value(func, out)
        args: list[ir.Value] = []
        kwargs: list[tuple[str, ir.Value]] = []
        for arg in node.args:
            value = self.value(arg.value, out)
            if arg.keyword is not None:
                kwargs.append((arg.keyword.value, value))
            elif arg.star:
                args.append(ir.OTHER)
            else:
                args.append(value)
        chain = chain_of(func)
        ordinal = self.number(node)
        if chain == "reveal_state":
            reveal = ir.Reveal(ordinal, args[0].key if args and isinstance(args[0], ir.RefValue) else None)
            if emit:
                out.append(reveal)
            return ir.Call(ordinal, chain, None, None, (), ())
        call = ir.Call(ordinal, chain, receiver, method, tuple(args), tuple(kwargs), statement)
        if emit:
            out.append(call)
        return call

    def condition(self, expr: cst.BaseExpression) -> ir.CondValue | None:
        negated = False
        while isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not):
            negated = not negated
            expr = expr.expression
        deps = sorted(set(_names_in(expr)))
        if not deps:
            return None
        chain = chain_of(expr)
        text = chain if chain is not None else _EMPTY_MODULE.code_for_node(expr)
        if len(text) > _MAX_CONDITION_TEXT:
            return None
        return ir.CondValue(" ".join(text.split()), tuple(deps), negated)


# -- helpers ------------------------------------------------------------------------------


_SKIPPED_CHILD_TYPES = (
    cst.BaseParenthesizableWhitespace,
    cst.Comment,
    cst.EmptyLine,
    cst.Newline,
    cst.LeftParen,
    cst.RightParen,
    cst.LeftSquareBracket,
    cst.RightSquareBracket,
    cst.LeftCurlyBrace,
    cst.RightCurlyBrace,
    cst.Comma,
    cst.Dot,
    cst.Colon,
    cst.AssignEqual,
    cst.BaseUnaryOp,
    cst.BaseBinaryOp,
    cst.BaseBooleanOp,
    cst.BaseCompOp,
    cst.BaseAugOp,
    cst.Semicolon,
    cst.ImportStar,
)
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _child_nodes(node: cst.CSTNode):
    """Child nodes without libcst's visitor machinery (``node.children`` is several times slower)."""
    names = _FIELD_NAMES.get(type(node))
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(node) if not f.name.startswith("whitespace"))
        _FIELD_NAMES[type(node)] = names
    for name in names:
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            if not isinstance(value, _SKIPPED_CHILD_TYPES):
                yield value
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, cst.CSTNode) and not isinstance(item, _SKIPPED_CHILD_TYPES):
                    yield item


def _call_result(call: ir.Call) -> ir.Value:
    """What a call evaluates to, when it keeps a reference's identity (wrappers, `.to()`)."""
    if call.func is not None and call.func.split(".")[-1] in WRAPPER_CALL_NAMES and call.args:
        first = call.args[0]
        if isinstance(first, ir.RefValue):
            return first
    return ir.CallValue(call.node)


def _key_or_none(value: ir.Value) -> str | None:
    return value.key if isinstance(value, ir.RefValue) else None


def _dotted(node: cst.BaseExpression) -> str:
    chain = chain_of(node)
    return chain if chain is not None else ""


def _target_names(target: cst.BaseExpression) -> list[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        names: list[str] = []
        for element in target.elements:
            names.extend(_target_names(element.value))
        return names
    if isinstance(target, cst.StarredElement):
        return _target_names(target.value)
    return []


def _parameter_names(params: cst.Parameters) -> tuple[str, ...]:
    names = [p.name.value for p in params.posonly_params]
    names += [p.name.value for p in params.params]
    if isinstance(params.star_arg, cst.Param):
        names.append(params.star_arg.name.value)
    names += [p.name.value for p in params.kwonly_params]
    if params.star_kwarg is not None:
        names.append(params.star_kwarg.name.value)
    return tuple(names)


def _suite_statements(suite: cst.BaseSuite):
    if isinstance(suite, cst.IndentedBlock):
        return suite.body
    return ()


def _names_in(expr: cst.CSTNode) -> list[str]:
    if isinstance(expr, cst.Name):
        return [expr.value] if expr.value not in ("True", "False", "None") else []
    if isinstance(expr, cst.Attribute):
        return _names_in(expr.value)
    names: list[str] = []
    for child in _child_nodes(expr):
        if isinstance(child, cst.Lambda):
            continue
        names.extend(_names_in(child))
    return names


def _short_code(expr: cst.CSTNode, limit: int = 60) -> str:
    text = " ".join(_EMPTY_MODULE.code_for_node(expr).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _words_of(expr: cst.CSTNode, in_subscript: bool = False) -> list[str]:
    """Identifier words of an expression, and string keys (`loaders["val"]`): what it iterates.

    Other string literals do not count: `for stage in ("fit", "validate")` iterates names.
    """
    words: list[str] = []
    if isinstance(expr, cst.Name):
        words.extend(identifier_words(expr.value))
    elif isinstance(expr, cst.Attribute):
        words.extend(_words_of(expr.value, in_subscript))
        words.extend(identifier_words(expr.attr.value))
    elif isinstance(expr, cst.SimpleString):
        literal = _literal(expr)
        if in_subscript and isinstance(literal, str):
            words.extend(identifier_words(literal))
    elif isinstance(expr, cst.Subscript):
        words.extend(_words_of(expr.value, in_subscript))
        for element in expr.slice:
            words.extend(_words_of(element, True))
    else:
        for child in _child_nodes(expr):
            words.extend(_words_of(child, in_subscript))
    return words


def _frozen_params_of(node: cst.For) -> str | None:
    """``for p in X.parameters(): p.requires_grad = False`` freezes X."""
    iterable = node.iter
    if not (isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Attribute)):
        return None
    if iterable.func.attr.value not in ("parameters", "named_parameters"):
        return None
    owner = chain_of(iterable.func.value)
    if owner is None:
        return None
    for statement in _suite_statements(node.body) if isinstance(node.body, cst.IndentedBlock) else ():
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Assign) and _literal(small.value) is False:
                for target in small.targets:
                    if isinstance(target.target, cst.Attribute) and target.target.attr.value == "requires_grad":
                        return key_of_chain(owner)
            if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                func = small.value.func
                if isinstance(func, cst.Attribute) and func.attr.value == "requires_grad_":
                    args = small.value.args
                    if args and _literal(args[0].value) is False:
                        return key_of_chain(owner)
    return None


def index_module(path: str, module_name: str, is_package: bool, module: cst.Module) -> ir.FileIndex:
    return Indexer(path, module_name, is_package).index(module)


def collect_nodes(path: str, module_name: str, is_package: bool, module: cst.Module) -> list[cst.CSTNode]:
    """The nodes of ``module`` in ordinal order (the same numbering ``index_module`` used)."""
    numbering = NodeNumbering(keep_nodes=True)
    Indexer(path, module_name, is_package, numbering).index(module)
    assert numbering.nodes is not None
    return numbering.nodes
