"""The tools the rules' fixes are built with: where a node sits, and edits from libcst rewrites.

A rule's fix (``Rule.fix``) gets the file's ``PositionTable``, the node its finding points at
and the finding's ``FixSpec``, and returns text edits. Two kinds:

* Safe fixes touch one node: `model.eval` -> `model.eval()` inserts `()` right after the node
  (``end_of`` says where), so everything else stays byte-for-byte as it was.
* Unsafe fixes change statements (insert `model.eval()`, add a decorator, wrap a loop in
  `with torch.no_grad():`). They are one libcst transformer over the parsed module
  (``transform``), plus libcst's AddImportsVisitor when `torch` is not imported; libcst
  regenerates only the nodes that changed and re-indents a wrapped body token by token, so
  comments, string contents and formatting survive. The new module text is then compared line
  by line with the original, and each changed run of lines becomes one ``Edit``: edits stay
  small, so fixes for different places in a file do not collide.
"""

from __future__ import annotations

import difflib
from typing import Callable, Sequence

import libcst as cst

from evallint.analysis.regions import is_eval_function_name, is_test_file
from evallint.analysis.torch_api import GRAD_OFF_CONTEXT_ATTRIBUTES, GRAD_ON_CONTEXT_ATTRIBUTES
from evallint.parsing.lines import split_lines
from evallint.types import Edit, Location


# --- safe fixes: insert "()" after one node -------------------------------------------------


def end_of(table, node: cst.CSTNode) -> Location | None:
    code_range = table.positions.get(node)
    if code_range is None:
        return None
    return Location(code_range.end.line, code_range.end.column + 1)


class _Parents(cst.CSTVisitor):
    def __init__(self) -> None:
        self.parents: dict[int, cst.CSTNode] = {}
        self._stack: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self._stack:
            self.parents[id(node)] = self._stack[-1]
        self._stack.append(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self._stack.pop()


# The findings of one file are resolved together, so the last module's parent map is all worth keeping.
# It holds the module itself, so the ids in the map cannot be reused by other objects meanwhile.
_last_parents: tuple[cst.Module, dict[int, cst.CSTNode]] | None = None


def ancestors(module: cst.Module, node: cst.CSTNode) -> list[cst.CSTNode]:
    """Innermost first."""
    global _last_parents
    if _last_parents is None or _last_parents[0] is not module:
        visitor = _Parents()
        module.visit(visitor)
        _last_parents = (module, visitor.parents)
    parents = _last_parents[1]
    chain = []
    current = parents.get(id(node))
    while current is not None:
        chain.append(current)
        current = parents.get(id(current))
    return chain


def _block_statement(node: cst.CSTNode, chain: Sequence[cst.CSTNode], stop: cst.CSTNode | None = None):
    """The statement around ``node`` that sits directly in an indented block or the module body."""
    previous = node
    for ancestor in chain:
        if ancestor is stop:
            break
        if isinstance(ancestor, (cst.IndentedBlock, cst.Module)) and isinstance(previous, cst.BaseStatement):
            return previous
        previous = ancestor
    return None


def enclosing_function(chain: Sequence[cst.CSTNode]) -> cst.FunctionDef | None:
    for ancestor in chain:
        if isinstance(ancestor, cst.FunctionDef):
            return ancestor
        if isinstance(ancestor, (cst.ClassDef, cst.Lambda)):
            return None
    return None


def dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        inner = dotted(node.value)
        return f"{inner}.{node.attr.value}" if inner else ""
    if isinstance(node, cst.Call):
        return dotted(node.func)
    return ""


def _disables_grad(with_node: cst.With) -> bool:
    return any(dotted(item.item).rsplit(".", 1)[-1] in GRAD_OFF_CONTEXT_ATTRIBUTES for item in with_node.items)


def enables_grad(with_node: cst.With) -> bool:
    for item in with_node.items:
        call = item.item
        if isinstance(call, cst.Call):
            func = call.func
            name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", None)
            if name in GRAD_ON_CONTEXT_ATTRIBUTES:
                return True
    return False


def evaluation_anchor(node: cst.CSTNode, chain: Sequence[cst.CSTNode], include_grad_with: bool):
    """The evaluation construct around a forward: the innermost loop (or no_grad block), else its statement."""
    function = enclosing_function(chain)
    for ancestor in chain:
        if ancestor is function:
            break
        if isinstance(ancestor, (cst.For, cst.While)):
            return ancestor
        if include_grad_with and isinstance(ancestor, cst.With) and _disables_grad(ancestor):
            return ancestor
    return _block_statement(node, chain, stop=function)


def bound_by_loop(chain: Sequence[cst.CSTNode], key: str, stop: cst.CSTNode | None, loops: bool = True) -> bool:
    """Is the root of ``key`` a target of a comprehension (or, with ``loops``, a ``for`` loop)
    around the node (``chain``, innermost first, up to ``stop`` and ``stop`` itself)? A statement
    inserted before ``stop`` would name a variable that is not bound there."""
    root = key.split(".")[0].split("[")[0]
    for ancestor in chain:
        if loops and isinstance(ancestor, cst.For) and root in _names_in(ancestor.target):
            return True
        if isinstance(ancestor, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
            clause = ancestor.for_in
            while clause is not None:
                if root in _names_in(clause.target):
                    return True
                clause = clause.inner_for_in
        if ancestor is stop:
            break
    return False


def _names_in(target: cst.CSTNode) -> set[str]:
    """The names an assignment target binds (or reads, for `x[i]` or `self.x`: a superset)."""
    names: set[str] = set()

    class Names(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            names.add(node.value)

    target.visit(Names())
    return names


def is_eval_function(function: cst.FunctionDef | None, path: str) -> bool:
    if function is None:
        return False
    return is_eval_function_name(function.name.value, is_test_file(path))


def _bound_in(function: cst.FunctionDef, name: str) -> bool:
    """Is ``name`` assigned inside ``function`` (so it may not exist at its first line)?"""
    return any(name in _names_in(target) for target in _assignment_targets(function))


def _assignment_targets(function: cst.FunctionDef):
    targets: list[cst.CSTNode] = []

    class Collector(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return node is function

        def visit_ClassDef(self, node: cst.ClassDef) -> bool:
            return False

        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            targets.append(node.target)

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            targets.append(node.target)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            targets.append(node.target)

        def visit_For(self, node: cst.For) -> None:
            targets.append(node.target)

        def visit_CompFor(self, node: cst.CompFor) -> None:
            targets.append(node.target)

        def visit_AsName(self, node: cst.AsName) -> None:
            targets.append(node.name)

        def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
            targets.append(node.target)

    function.body.visit(Collector())
    return targets


def available_at_entry(function: cst.FunctionDef, key: str) -> bool:
    """``model`` / ``self.model`` can be used on the function's first line."""
    root = key.split(".")[0].split("[")[0]
    params = function.params
    names = {p.name.value for p in (*params.posonly_params, *params.params, *params.kwonly_params)}
    if root in names:
        return True
    return not _bound_in(function, root)


def _body_start(body: cst.IndentedBlock) -> int:
    """Index after a docstring, so a new statement never displaces it."""
    if body.body and isinstance(body.body[0], cst.SimpleStatementLine):
        first = body.body[0].body
        if len(first) == 1 and isinstance(first[0], cst.Expr) and isinstance(first[0].value, (cst.SimpleString, cst.ConcatenatedString)):
            return 1
    return 0


def _statement(code: str) -> cst.SimpleStatementLine:
    statement = cst.parse_statement(code)
    assert isinstance(statement, cst.SimpleStatementLine)
    return statement


class _Rewrite(cst.CSTTransformer):
    """One node replacement: ``replace(original) -> node or sequence of statements``."""

    def __init__(self, target: cst.CSTNode, replace: Callable[[cst.CSTNode, cst.CSTNode], object]) -> None:
        self.target = target
        self.replace = replace

    def on_leave(self, original_node, updated_node):
        if original_node is self.target:
            return self.replace(original_node, updated_node)
        return updated_node


def torch_name(module: cst.Module) -> str | None:
    """The name `torch` is bound to by a module-level `import torch [as t]`, if any."""
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Import):
                for alias in small.names:
                    if dotted(alias.name) == "torch":
                        if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                            return alias.asname.name.value
                        return "torch"
    return None


def _edits_between(old: str, new: str) -> list[Edit]:
    """Each changed run of lines as one edit replacing whole lines of ``old``.

    The lines both texts share at the start and at the end are set aside first, so the
    line diff only sees the few lines around the fix (a full diff of a large file with
    many identical lines is quadratic).
    """
    old_lines, new_lines = split_lines(old), split_lines(new)
    head = 0
    limit = min(len(old_lines), len(new_lines))
    while head < limit and old_lines[head] == new_lines[head]:
        head += 1
    tail = 0
    while tail < limit - head and old_lines[-1 - tail] == new_lines[-1 - tail]:
        tail += 1
    old_middle = old_lines[head : len(old_lines) - tail]
    new_middle = new_lines[head : len(new_lines) - tail]
    matcher = difflib.SequenceMatcher(None, old_middle, new_middle, autojunk=False)
    edits = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        edits.append(Edit("".join(new_middle[j1:j2]), Location(head + i1 + 1, 1), Location(head + i2 + 1, 1)))
    return edits


def transform(table, target: cst.CSTNode, replace, needs_torch: bool) -> list[Edit]:
    if getattr(table, "planning", False):
        replace(target, target)  # what can fail: building the node that takes the target's place
        return [Edit("", Location(1, 1), Location(1, 1))]
    module: cst.Module = table.module
    new_module = module.visit(_Rewrite(target, replace))
    if needs_torch:
        # Imported here: libcst's codemods load its matchers, which cost more to import than a
        # planned fix costs to build, and only a fix that adds `import torch` needs them.
        from libcst.codemod import CodemodContext
        from libcst.codemod.visitors import AddImportsVisitor

        context = CodemodContext()
        AddImportsVisitor.add_needed_import(context, "torch")
        new_module = AddImportsVisitor(context).transform_module(new_module)
    return _edits_between(module.code, new_module.code)


def insert_before(table, anchor: cst.BaseStatement, code: str) -> list[Edit]:
    """Insert a statement before ``anchor``; comments and blank lines above it stay above both."""

    def replace(original, updated):
        statement = _statement(code).with_changes(leading_lines=updated.leading_lines)
        return cst.FlattenSentinel([statement, updated.with_changes(leading_lines=())])

    return transform(table, anchor, replace, needs_torch=False)


def insert_at_top(table, block_owner: cst.CSTNode, code: str) -> list[Edit]:
    body = getattr(block_owner, "body", None)
    if not isinstance(body, cst.IndentedBlock):
        return []
    index = _body_start(body)

    def replace(original, updated):
        statements = list(updated.body.body)
        statements.insert(index, _statement(code))
        return updated.with_changes(body=updated.body.with_changes(body=statements))

    return transform(table, block_owner, replace, needs_torch=False)
