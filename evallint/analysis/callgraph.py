"""Link names to definitions across the files of a run.

``ProjectIndex`` answers: what does this dotted name mean in this file
(an import, a function or class of the project, a local), which method does
``self.x()`` reach through the project's class hierarchy, and which functions
are called from somewhere in the project at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from evallint.analysis import ir
from evallint.strict import strict


# Built for every function and class of the project before phase 2 can start: slotted and built
# without object.__setattr__ (frozen only in evallint's strict test runs, as the IR's records are).
_ref = dataclass(frozen=strict(), slots=True, unsafe_hash=True)


@_ref
class FunctionRef:
    id: str
    file: ir.FileIndex
    info: ir.FunctionInfo


@_ref
class ClassRef:
    id: str
    file: ir.FileIndex
    info: ir.ClassInfo


# Prefix of a "type" that is a project function passed as a value (`run_eval(model, evaluate_fn)`),
# and of a method passed bound to its instance (`Index(docs, encoder=model.embed)`): calling
# that passes no `self`.
FUNCTION_VALUE = "function:"
BOUND_METHOD_VALUE = "bound-method:"


def passed_values(callee: FunctionRef, call: ir.Call, drops_self: bool) -> list[tuple[str, ir.Value]]:
    """(parameter, value) for each argument ``call`` gives ``callee``, by position then by name;
    ``drops_self``: a method's first parameter is bound to its instance, not to an argument."""
    params = list(callee.info.params)
    if callee.info.class_name is not None and params and drops_self:
        params = params[1:]
    return list(zip(params, call.args)) + [(name, value) for name, value in call.kwargs if name in params]


def function_of_value(type_id: str | None) -> str | None:
    """The project function a "type" of either kind above holds, or None."""
    if type_id is None:
        return None
    for prefix in (FUNCTION_VALUE, BOUND_METHOD_VALUE):
        if type_id.startswith(prefix):
            return type_id[len(prefix) :]
    return None


# Prefix of the type of a project class's instance built with values that leave its mode-dependent
# layers inert (`GPT({"drop_rate": 0.0})`): its methods are the class's, its mode changes nothing.
MODE_FREE_INSTANCE = "mode-free:"


def class_of_type(type_id: str) -> str:
    """The project class a type names (the class of a mode-free instance)."""
    return type_id[len(MODE_FREE_INSTANCE) :] if type_id.startswith(MODE_FREE_INSTANCE) else type_id


# Prefix of the type of a name that holds an instance of one of several project classes, bound on
# different paths (`agent = Dreamer(...)` in one branch, `agent = Plan2Explore(...)` in another):
# a method called on it is each class's own method, walked on its own.
ONE_OF_CLASSES = "one-of:"
MAX_CLASS_CHOICES = 4


def classes_of_choice(type_id: str) -> tuple[str, ...]:
    """The classes a type of either kind names: one project class, or the several of a choice."""
    if type_id.startswith(ONE_OF_CLASSES):
        return tuple(type_id[len(ONE_OF_CLASSES) :].split("|"))
    return (type_id,)


def join_class_types(one: str, two: str) -> str | None:
    """The type of a name bound to an instance of ``one`` on a path and of ``two`` on another, if
    both are plain project classes (a class id: `path::Name`) or choices of them; else None."""
    choices: set[str] = set()
    for type_id in (one, two):
        for class_id in classes_of_choice(type_id):
            if "::" not in class_id or class_id.startswith((FUNCTION_VALUE, BOUND_METHOD_VALUE, MODE_FREE_INSTANCE)):
                return None
            choices.add(class_id)
    if len(choices) > MAX_CLASS_CHOICES:
        return None
    return ONE_OF_CLASSES + "|".join(sorted(choices))


def function_id(path: str, qualname: str) -> str:
    return f"{path}::{qualname}"


class ProjectIndex:
    def __init__(self, files: list[ir.FileIndex]) -> None:
        self.files = {f.path: f for f in files}
        self.by_module: dict[str, list[ir.FileIndex]] = {}
        self.functions: dict[str, FunctionRef] = {}
        self.classes: dict[str, ClassRef] = {}
        self.toplevel: dict[str, dict[str, str]] = {}  # path -> name -> function/class id
        self.nested: dict[str, dict[str, str]] = {}  # function id -> nested function name -> id
        self.imports: dict[str, dict[str, str]] = {}  # path -> local -> absolute dotted target
        self.methods: dict[str, dict[str, str]] = {}  # class id -> method name -> function id
        # Built before phase 2 can start, in the main process alone: ids are written out here
        # rather than through ``function_id`` (30,000 functions on the benchmark corpus).
        functions, nested = self.functions, self.nested
        for f in files:
            self.by_module.setdefault(f.module, []).append(f)
            top: dict[str, str] = {}
            prefix = f"{f.path}::"
            for fn in f.functions:
                fid = prefix + fn.qualname
                functions[fid] = FunctionRef(fid, f, fn)
                if fn.parent is not None:
                    nested.setdefault(prefix + fn.parent, {})[fn.name] = fid
                elif fn.class_name is None and fn.qualname != "<module>":
                    top[fn.qualname] = fid  # the name, or `name@N` for a redefined one (``redefinitions``)
            for cls in f.classes:
                cid = prefix + cls.qualname
                self.classes[cid] = ClassRef(cid, f, cls)
                if "." not in cls.qualname:
                    top[cls.qualname] = cid
                method_prefix = cid + "."
                self.methods[cid] = {m: method_prefix + m for m in cls.methods}
            self.toplevel[f.path] = top
            self.imports[f.path] = (
                {imp.local: self._absolute(f, imp) for imp in f.imports if imp.local != ir.STAR_IMPORT} if f.imports else {}
            )
        self._bases_cache: dict[str, tuple[str, ...]] = {}
        self._qualified: dict[tuple[str, str], str] = {}
        self._all_bases_cache: dict[str, frozenset[str]] = {}
        self._method_cache: dict[tuple[str, str, bool], str | None] = {}
        self._overrides_cache: dict[tuple[str, str], list[str]] = {}
        self._resolve_cache: dict[tuple[str, str], str | None] = {}
        self._typed_resolve_cache: dict[tuple[str, str, str], str | None] = {}
        self._module_files_cache: dict[tuple[str, str], list[ir.FileIndex]] = {}
        self._files_by_tail: dict[str, list[tuple[str, ir.FileIndex]]] | None = None
        self._base_ids_cache: dict[str, list[str]] = {}
        self._subclasses: dict[str, list[str]] | None = None
        self._expand_star_imports(files)
        # Per file, every name a chain can start with and still reach a project definition; any
        # other root (a local variable, a builtin) resolves to nothing without looking further.
        self._resolvable_roots: dict[str, set[str]] = {
            path: {"self", *self.toplevel[path], *self.imports[path]} for path in self.files
        }
        for scope, nested in self.nested.items():
            self._resolvable_roots[self.functions[scope].file.path].update(nested)
        self._by_method_name: dict[str, list[str]] = {}
        for cid, methods in self.methods.items():
            for method in methods:
                self._by_method_name.setdefault(method, []).append(cid)

    # -- names ------------------------------------------------------------------------------

    def _expand_star_imports(self, files: list[ir.FileIndex]) -> None:
        """`from pkg.layers import *` of a project module binds the public names that module
        defines or imports (and those its own star imports bind): each becomes an import of the
        importing file, so `Dropout(...)` and `nn.Module` read there as they do in `pkg.layers`.
        Names the file imports or defines itself keep their own meaning."""
        stars = {
            f.path: [self._absolute(f, imp) for imp in f.imports if imp.local == ir.STAR_IMPORT]
            for f in files
            if any(imp.local == ir.STAR_IMPORT for imp in f.imports)
        }
        if not stars:
            return
        exported: dict[str, dict[str, str]] = {}

        def exports(f: ir.FileIndex) -> dict[str, str]:
            found = exported.get(f.path)
            if found is not None:
                return found
            exported[f.path] = {}  # a cycle of star imports adds nothing more
            names = bound_by_stars(f)
            names.update((name, f"{f.module}.{name}") for name in self.toplevel[f.path] if "@" not in name)
            names.update(self.imports[f.path])
            found = exported[f.path] = {name: target for name, target in names.items() if not name.startswith("_")}
            return found

        def bound_by_stars(f: ir.FileIndex) -> dict[str, str]:
            names: dict[str, str] = {}
            for module in stars.get(f.path, ()):
                sources = self._module_files(module, f.path)
                if len(sources) == 1 and sources[0] is not f:
                    names.update(exports(sources[0]))  # (a later star import rebinds a name)
            return names

        for f in files:
            if f.path in stars:
                own = self.imports[f.path]
                for name, target in bound_by_stars(f).items():
                    if name not in own and name not in self.toplevel[f.path]:
                        own[name] = target

    @staticmethod
    def _absolute(f: ir.FileIndex, imp: ir.Import) -> str:
        if imp.level == 0:
            return imp.target
        package = f.module if f.is_package else f.module.rpartition(".")[0]
        for _ in range(imp.level - 1):
            package = package.rpartition(".")[0]
        if not imp.target:
            return package  # `from . import *`
        return f"{package}.{imp.target}" if package else imp.target

    def qualify(self, path: str, chain: str) -> str:
        """The absolute dotted name a chain stands for in a file: ``nn.Linear`` -> ``torch.nn.Linear``."""
        key = (path, chain)
        found = self._qualified.get(key)
        if found is None:
            found = self._qualified[key] = self._qualify(path, chain)
        return found

    def qualified_callee(self, path: str, call: ir.Call) -> str | None:
        """The absolute name a call's callee stands for: its chain qualified, or for a name looked
        up in a module's namespace (`models.__dict__[arch](...)`) that module's name and `*`."""
        if call.func is not None:
            return self.qualify(path, call.func)
        receiver = call.receiver
        first = receiver.parts[0] if isinstance(receiver, ir.MixValue) and receiver.parts else receiver
        if isinstance(first, ir.RefValue):
            namespace, lookup, _ = first.key.partition(".__dict__")
            if lookup and namespace:
                return self.qualify(path, namespace) + ".*"
        return None

    def _qualify(self, path: str, chain: str) -> str:
        root, _, rest = chain.partition(".")
        target = self.imports.get(path, {}).get(root)
        if target is None:
            if root in self.toplevel.get(path, {}):
                module = self.files[path].module
                return f"{module}.{chain}"
            return chain
        return f"{target}.{rest}" if rest else target

    def is_imported_or_defined(self, path: str, root: str) -> bool:
        return root in self.imports.get(path, {}) or root in self.toplevel.get(path, {})

    def _module_files(self, module: str, near: str) -> list[ir.FileIndex]:
        """The files a dotted module name can mean in the file at ``near``: those its package
        directories name so, and those at its path under a directory the file's import can start
        from. Several are narrowed to the one beside ``near``, else to none: a guess is no answer."""
        here = os.path.dirname(near)
        key = (module, here)
        found = self._module_files_cache.get(key)
        if found is None:
            candidates = self.by_module.get(module, [])
            at_path = [f for f in self._files_at_module_path(module, here) if f not in candidates]
            if at_path:
                candidates = [*candidates, *at_path]
            if len(candidates) <= 1:
                found = candidates
            else:
                found = [c for c in candidates if os.path.dirname(c.path) == here]
            self._module_files_cache[key] = found
        return found

    def _files_at_module_path(self, module: str, here: str) -> list[ir.FileIndex]:
        """Project files that are ``module`` for Python when the directory ``here`` or one above it
        is on ``sys.path``: ``a.b.c`` is ``a/b/c.py`` or ``a/b/c/__init__.py`` below it, whether or
        not ``a/`` and ``a/b/`` hold an ``__init__.py`` (namespace packages, common in research
        code, do not). ``python main.py`` puts the script's directory first on ``sys.path``, and
        a project's files import each other from the directory of the script that runs them, which
        is the importing file's or one above it."""
        if self._files_by_tail is None:
            # Each file under each of its directories' tails: `x/a/b/c.py` is `c.py` under `x/a/b`,
            # `b/c.py` under `x/a`, `a/b/c.py` under `x`...
            self._files_by_tail = {}
            for path, f in self.files.items():
                directory, tail = os.path.split(path)
                while True:
                    self._files_by_tail.setdefault(tail, []).append((directory, f))
                    parent, name = os.path.split(directory)
                    if not name or parent == directory:
                        break
                    directory, tail = parent, name + os.sep + tail
        relative = os.sep.join(module.split("."))
        found: list[ir.FileIndex] = []
        for name in (relative + ".py", relative + os.sep + "__init__.py"):
            for directory, f in self._files_by_tail.get(name, ()):
                # (A relative path's top directory is "": every importing directory is below it.)
                if not directory or here == directory or here.startswith(directory.rstrip(os.sep) + os.sep):
                    found.append(f)
        return found

    def lookup_qualified(self, dotted: str, near: str) -> str | None:
        """Find the project definition of an absolute dotted name (a function, class or method)."""
        # Re-exports are followed in a loop that stops at a name seen before: `from foo import
        # foo_loss` inside foo/foo.py names itself, and two modules can re-export each other.
        seen: set[tuple[str, str]] = set()
        while (dotted, near) not in seen:
            seen.add((dotted, near))
            parts = dotted.split(".")
            for cut in range(len(parts) - 1, 0, -1):
                files = self._module_files(".".join(parts[:cut]), near)
                if len(files) == 1:
                    break
            else:
                return None
            rest = parts[cut:]
            target = self.toplevel[files[0].path].get(rest[0])
            if target is None:
                # `from pkg import mod` then `mod.func`: the name may be a submodule re-export.
                reexport = self.imports[files[0].path].get(rest[0])
                if reexport is None:
                    return None
                dotted, near = ".".join([reexport, *rest[1:]]), files[0].path
                continue
            if len(rest) == 1:
                return target
            if len(rest) == 2 and target in self.classes:
                return self.method_of(target, rest[1])
            return None
        return None

    # -- resolution -------------------------------------------------------------------------------

    def resolve(self, fn: FunctionRef, chain: str, local_types: dict[str, str] | None = None) -> str | None:
        """The id of the function or class a call's callee chain reaches, if the project defines it."""
        root = chain.partition(".")[0]
        if local_types and root in local_types:
            held_type = local_types[root]
            held = function_of_value(held_type)
            if held is not None and chain == root:
                return held  # a parameter bound to a project function
            # (``_resolve`` reads only the root's type.)
            typed_key = (fn.id, chain, held_type)
            if typed_key not in self._typed_resolve_cache:
                self._typed_resolve_cache[typed_key] = self._resolve(fn, chain, local_types)
            return self._typed_resolve_cache[typed_key]
        if root not in self._resolvable_roots[fn.file.path]:
            return None
        key = (fn.id, chain)
        if key not in self._resolve_cache:
            self._resolve_cache[key] = self._resolve(fn, chain, None)
        return self._resolve_cache[key]

    def _resolve(self, fn: FunctionRef, chain: str, local_types: dict[str, str] | None) -> str | None:
        path = fn.file.path
        root, _, rest = chain.partition(".")
        # Nested functions visible from here (own nested defs, then the enclosing functions').
        scope: str | None = fn.id
        while scope is not None:
            nested = self.nested.get(scope, {})
            if root in nested and not rest:
                return nested[root]
            parent = self.functions[scope].info.parent if scope in self.functions else None
            scope = function_id(path, parent) if parent else None
        bound = class_of_type(local_types[root]) if local_types and root in local_types else None
        if bound is not None and rest and "." not in rest and bound in self.classes:
            found = self.method_of(bound, rest)
            if found is not None:
                return found
        if root == "self" and fn.info.class_name is not None and rest and "." not in rest:
            return self.method_of(function_id(path, fn.info.class_name), rest, allow_subclasses=True)
        if root in fn.info.local_names and fn.info.qualname != "<module>":
            return None
        if root in self.toplevel.get(path, {}):
            target = self.toplevel[path][root]
            if not rest:
                return target
            if target in self.classes and "." not in rest:
                return self.method_of(target, rest)
            return None
        imported = self.imports.get(path, {}).get(root)
        if imported is not None:
            return self.lookup_qualified(self.qualify(path, chain), path)
        return None

    def class_of_method(self, fn: FunctionRef) -> str | None:
        if fn.info.class_name is None:
            return None
        return function_id(fn.file.path, fn.info.class_name)

    def base_ids(self, class_id: str) -> list[str]:
        cached = self._base_ids_cache.get(class_id)
        if cached is None:
            ref = self.classes[class_id]
            self._base_ids_cache[class_id] = []  # a class reached again while its bases resolve has none
            cached = []
            for base in ref.info.bases:
                target = self.resolve_class(ref.file.path, base)
                if target is not None and target != class_id:
                    cached.append(target)
            self._base_ids_cache[class_id] = cached
        return cached

    def resolve_class(self, path: str, chain: str) -> str | None:
        root, _, rest = chain.partition(".")
        top = self.toplevel.get(path, {})
        if root in top and not rest and top[root] in self.classes:
            return top[root]
        if root in self.imports.get(path, {}):
            target = self.lookup_qualified(self.qualify(path, chain), path)
            if target in self.classes:
                return target
        return None

    def qualified_bases(self, class_id: str) -> tuple[str, ...]:
        """Absolute names of every base class outside the project, through project bases."""
        cached = self._bases_cache.get(class_id)
        if cached is not None:
            return cached
        self._bases_cache[class_id] = ()
        ref = self.classes[class_id]
        names: list[str] = []
        for base in ref.info.bases:
            target = self.resolve_class(ref.file.path, base)
            if target is not None:
                names.extend(self.qualified_bases(target))
            else:
                names.append(self.qualify(ref.file.path, base))
        result = tuple(names)
        self._bases_cache[class_id] = result
        return result

    def method_of(self, class_id: str, name: str, allow_subclasses: bool = False) -> str | None:
        class_id = class_of_type(class_id)
        key = (class_id, name, allow_subclasses)
        if key not in self._method_cache:
            self._method_cache[key] = None  # asked again while being looked up (a cycle): not found
            self._method_cache[key] = self._method_of(class_id, name, allow_subclasses)
        return self._method_cache[key]

    def _method_of(self, class_id: str, name: str, allow_subclasses: bool) -> str | None:
        seen: set[str] = set()
        todo = [class_id]
        while todo:
            current = todo.pop(0)
            if current in seen or current not in self.classes:
                continue
            seen.add(current)
            method = self.methods.get(current, {}).get(name)
            if method is not None:
                return method
            todo.extend(self.base_ids(current))
        if allow_subclasses:
            # A base-class method calling a hook that only subclasses define: one definition is unambiguous.
            found = [self.methods[cid][name] for cid in self._classes_defining(name) if class_id in self.ancestors(cid)]
            if len(found) == 1:
                return found[0]
        return None

    def overrides(self, class_id: str, name: str) -> list[str]:
        """Methods called ``name`` in project subclasses of ``class_id``: where ``self.name()`` may dispatch."""
        key = (class_id, name)
        if key not in self._overrides_cache:
            self._overrides_cache[key] = sorted(
                self.methods[cid][name]
                for cid in self._classes_defining(name)
                if cid != class_id and class_id in self.ancestors(cid)
            )
        return self._overrides_cache[key]

    def subclasses(self, class_id: str) -> list[str]:
        """Every project class derived from ``class_id``, directly or not, sorted by id."""
        if self._subclasses is None:
            found: dict[str, list[str]] = {}
            for cid in sorted(self.classes):
                for ancestor in self.ancestors(cid):
                    found.setdefault(ancestor, []).append(cid)
            self._subclasses = found
        return self._subclasses.get(class_id, [])

    def _classes_defining(self, name: str) -> list[str]:
        return self._by_method_name.get(name, [])

    def ancestors(self, class_id: str) -> frozenset[str]:
        """Every project class ``class_id`` derives from, directly or not."""
        cached = self._all_bases_cache.get(class_id)
        if cached is not None:
            return cached
        seen: set[str] = set()
        todo = list(self.base_ids(class_id))
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            todo.extend(self.base_ids(current))
        cached = frozenset(seen)
        self._all_bases_cache[class_id] = cached
        return cached
