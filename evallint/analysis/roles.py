"""What a model is, and which forwards are training and which are evaluation.

Both questions are answered here once, for the rules and for ``evallint verify`` alike.

A *model* is an ``nn.Module`` whose mode matters: it holds (directly or through its submodules)
Dropout, BatchNorm, InstanceNorm with running statistics, or an RNN or Transformer with dropout;
or it reads ``self.training``; or it is a library model or a class evallint cannot see into.
Losses, metrics and modules made only of mode-free layers (``nn.Linear``, ``nn.Embedding``) are not.

A forward is a *training* forward when its output reaches a backward pass (``dataflow``); it is an
*evaluation* forward when its output never does and the model has weights worth evaluating: it is
trained or its weights are loaded in the same function, or a caller that trains it hands it over
(``Interpreter.callee_context``). Names of functions and loaders stay supporting evidence.
"""

from __future__ import annotations

import functools

from evallint.analysis import ir, torch_api
from evallint.analysis.bodies import chains_in, forward_key, references_in
from evallint.analysis.callgraph import FunctionRef, ProjectIndex
from evallint.analysis.dataflow import OutputFlow
from evallint.analysis.flows import FunctionFlows
from evallint.analysis.names import identifier_words
from evallint.analysis.site_values import Config, Site, SiteValues

MODEL = "model"
MODE_FREE = "mode-free"  # a module with parameters whose mode changes nothing (`nn.Linear`): EVL201 only
NOT_MODEL = "not-model"
CONTAINER = "container"  # decided by what it holds
UNSEEN = "unseen"  # a class evallint cannot see into: taken for a model
# A reference's type for a library object whose call runs its models with autograd off (a
# pipeline): for its mode, a library model evallint cannot see into.
RUNS_WITHOUT_GRAD = "runs-without-grad"
# Roles kept as a reference's type (``State.types``) when no project class says it.
MARKERS = frozenset({MODE_FREE, NOT_MODEL})

TRAINING = "training"
RETURNED = "returned"  # the output leaves the function: its callers decide
LOCAL = "local"  # the output stays in the function and never reaches a backward
IN_STEP = "in-step"  # dropped, but inside a training step (a backward follows in the same iteration)

_WEIGHT_WORDS = frozenset({"checkpoint", "ckpt", "weights", "model", "models", "net", "pretrained", "state", "params"})

_NOT_MODULE_BUILDERS = frozenset(
    {"int", "float", "str", "bool", "list", "dict", "tuple", "set", "frozenset", "len", "range", "getattr",
     "max", "min", "sum", "abs", "round", "sorted", "zip", "enumerate", "super", "isinstance", "print",
     "open", "type", "object", "slice", "map", "filter", "iter", "next", "hasattr", "vars", "repr"}
)


# Roots of calls that build no module (an `OrderedDict()` of hooks is a table, not a submodule).
_NOT_MODULE_LIBRARIES = frozenset({"torch", "math", "numpy", "np", "self", "collections", "typing"})


def constructor_role(qualified: str, call: ir.Call) -> str:
    """The role of what calling a torch or library constructor builds."""
    last = qualified.rpartition(".")[2]
    if last in torch_api.WRAPPER_CALL_NAMES or last in torch_api.MODULE_CONTAINERS:
        return CONTAINER
    if qualified.startswith("torch.nn."):
        if last in torch_api.MODE_SENSITIVE_LAYERS:
            rate = call.args[0] if call.args else dict(call.kwargs).get("p")
            if "Dropout" in last and isinstance(rate, ir.ConstValue) and rate.value in (0, 0.0):
                return MODE_FREE  # `nn.Dropout(0.0)` drops nothing in either mode
            return MODEL
        if last in ("TransformerEncoder", "TransformerDecoder"):
            return CONTAINER
        conditional = torch_api.MODE_SENSITIVE_IF.get(last)
        if conditional is not None:
            if call.unpacked:
                return MODEL  # `nn.LSTM(**cfg)`: the dropout or layer count may be in there
            if last in ("RNN", "LSTM", "GRU") and _single_layer(call):
                return MODE_FREE  # dropout acts between layers: one layer drops nothing
            return MODEL if _keyword_sets(call, *conditional) else MODE_FREE
        if last.endswith(torch_api.LOSS_NAME_ENDINGS) or last in torch_api.PARAMETER_FREE_LAYERS or "Pool" in last:
            return NOT_MODEL
        return MODE_FREE
    if qualified.startswith(torch_api.MONAI_NETS_PREFIX):
        if last.lower().startswith(torch_api.MONAI_BATCH_NORM_FAMILIES) or call.unpacked:
            return MODEL
        asked = [value for name, value in call.kwargs if name in torch_api.MODE_ASKING_KEYWORDS]
        free = all(isinstance(value, ir.ConstValue) and value.value in (None, 0, 0.0, False, "instance", "group") for value in asked)
        return MODE_FREE if free else MODEL
    return MODEL


def library_role(qualified: str, call: ir.Call) -> str | None:
    """The role of a library layer or model evallint knows by its keywords, or None."""
    if not may_be_library_layer(qualified):
        return None
    if call.unpacked:
        return MODEL  # `GCN(..., **kwargs)`: `dropout` or `norm` may be in there
    for name, value in call.kwargs:
        if name in torch_api.MODE_ASKING_KEYWORDS:
            if not isinstance(value, ir.ConstValue) or value.value not in (None, 0, 0.0, False, "none", "None"):
                return MODEL
    return MODE_FREE


def may_be_library_layer(qualified: str | None) -> bool:
    """Is this a layer class of a library whose table ``library_role`` reads?"""
    if qualified is None or not qualified.startswith(torch_api.MODE_FREE_UNLESS_ASKED_PREFIXES):
        return False
    # A helper (`to_hetero(net, ...)`, a resolver) builds no layer the table knows: what it
    # returns is what it is given or chooses.
    return qualified.rpartition(".")[2][:1].isupper()


def loads_pretrained_weights(qualified: str | None, call: ir.Call) -> bool:
    """A library model built with its pretrained weights: worth evaluating, and (unlike
    `from_pretrained`) in train mode, as every new module."""
    for name, value in call.kwargs:
        if name in torch_api.PRETRAINED_KEYWORDS:
            if isinstance(value, ir.ConstValue) and value.value in (None, False, 0, "", "None"):
                return False
            return qualified is not None and constructs_module(qualified)
    return False


def strongest(found) -> str:
    """What a module holding parts of these roles is: a model as soon as one part may be."""
    found = set(found)
    if found & {MODEL, UNSEEN}:
        return MODEL
    return MODE_FREE if MODE_FREE in found else NOT_MODEL


def container_role(part_roles) -> str:
    """A container (``nn.Sequential``, ``DataParallel``) is what the strongest of its parts is."""
    return strongest(part_roles)


def _single_layer(call: ir.Call) -> bool:
    layers = dict(call.kwargs).get("num_layers", call.args[2] if len(call.args) > 2 else None)
    return layers is None or (isinstance(layers, ir.ConstValue) and layers.value == 1)


def _keyword_sets(call: ir.Call, keyword: str, default: bool) -> bool:
    value = dict(call.kwargs).get(keyword)
    if value is None:
        # Given by position (``nn.LSTM(8, 8, 2, True, True, 0.3)``) or not at all.
        return default or len(call.args) >= 6
    if isinstance(value, ir.ConstValue):
        return bool(value.value)
    return True


class Roles:
    """State-independent answers about one project, computed on demand and kept."""

    def __init__(self, project: ProjectIndex, statements, is_module_class, sink_kind, steps, globals_trained_by,
                 training_callee) -> None:
        self.project = project
        self.statements = statements  # FunctionRef -> flattened statements
        self.is_module_class = is_module_class
        self.sink_kind = sink_kind  # (FunctionRef, Call) -> dataflow.BACKWARD, TRAINS or 0
        self.steps = steps  # FunctionRef -> bool: it runs an optimizer step (itself or through a callee)
        self.globals_trained_by = globals_trained_by  # (FunctionRef, Call) -> module names it may train
        self._class_roles: dict[tuple[str, Site], str] = {}
        self.sites = SiteValues(project, statements)
        self._subclass_index: dict[str, list[str]] | None = None
        self._builds_memo: dict[str, str] = {}
        self._own_roles: dict[str, tuple[str, frozenset[str]]] = {}
        self.flows = FunctionFlows(project, statements, sink_kind, training_callee)
        self._weights: dict[str, dict[str, tuple[int, ...]]] = {}
        self._grad_off_decorators: dict[str, bool] = {}
        self._optimized: dict[str, frozenset[str] | None] = {}

    # -- what a model is ---------------------------------------------------------------------------

    def class_role(self, class_id: str) -> str:
        """MODEL, MODE_FREE, NOT_MODEL or UNSEEN for a project ``nn.Module`` subclass."""
        return self.class_role_at(class_id, ())

    def class_role_at(self, class_id: str, site: Site) -> str:
        """The role of the class's instances built with ``site`` (``site_values``): a model class
        whose dropout is given 0.0 there (``GPT({"drop_rate": 0.0})``) builds mode-free instances."""
        if site and self.class_role(class_id) != MODEL:
            return self.class_role(class_id)
        key = (class_id, site)
        found = self._class_roles.get(key)
        if found is not None:
            return found
        self._class_roles[key] = UNSEEN if not site else MODEL  # a cycle through the class's own submodules
        role = self._class_role(class_id, site)
        self._class_roles[key] = role
        return role

    def instance_role(self, fref: FunctionRef, call: ir.Call, class_id: str) -> str:
        """The role of the instance of a project class that ``call`` in ``fref`` builds."""
        site = self.sites.site_of(fref, call, self.project.method_of(class_id, "__init__"))
        return self.class_role_at(class_id, site)

    def own_role(self, class_id: str) -> tuple[str, frozenset[str]]:
        """(What a module class builds itself, the ``__init__`` parameters it stores as submodules
        it runs): `RNNModel(rnn_layer)` is as mode-dependent as its Linear and its `rnn_layer`."""
        found = self._own_roles.get(class_id)
        if found is None:
            self._own_roles[class_id] = (UNSEEN, frozenset())  # (a cycle: nothing known)
            handed: set[str] = set()
            role = self._class_role(class_id, (), handed)
            found = self._own_roles[class_id] = (role, frozenset(handed))
        return found

    def _class_role(self, class_id: str, site: Site, handed: set | None = None) -> str:
        owners = [class_id]
        for owner in owners:
            for base in self.project.base_ids(owner):
                if base not in owners:
                    owners.append(base)
        unseen = mode_free = False
        for base in self.project.qualified_bases(class_id):
            if base in self.project.classes or base in torch_api.MODULE_BASES or base.endswith(".Module"):
                continue
            if base.startswith(torch_api.LIBRARY_MODEL_PREFIXES) or base.endswith("PreTrainedModel"):
                return MODEL
        # The attributes the class runs as submodules (`self.backbone(x)`): only those can be
        # modules it cannot see into, when they are handed in or built by calls it cannot follow.
        called = frozenset(
            stmt.func
            for owner in owners
            for fid in self.project.methods.get(owner, {}).values()
            for stmt in self.statements(self.project.functions[fid])
            if type(stmt) is ir.Call and stmt.func is not None and stmt.func.startswith("self.")
        )
        init = self.project.method_of(class_id, "__init__") if site else None
        for owner in owners:
            for fid in self.project.methods.get(owner, {}).values():
                verdict = self._builds(self.project.functions[fid], in_class=True, called=called, site=site if fid == init else (),
                                       handed=handed)
                if verdict == MODEL:
                    return MODEL
                unseen = unseen or verdict == UNSEEN
                mode_free = mode_free or verdict == MODE_FREE
        name = self.project.classes[class_id].info.name
        if name.endswith(torch_api.LOSS_NAME_ENDINGS) or any(
            base.rpartition(".")[2].endswith(("Loss", "_Loss")) for base in self.project.qualified_bases(class_id)
        ):
            return NOT_MODEL
        if unseen or mode_free:
            return UNSEEN if unseen else MODE_FREE
        # A base that builds nothing (its subclasses' `create_layers()` do): `self` in its methods
        # is one of them, so it is what the strongest of them is.
        found = {self.class_role(sub) for sub in self._subclasses().get(class_id, ())}
        return MODEL if MODEL in found else UNSEEN if UNSEEN in found else MODE_FREE if MODE_FREE in found else NOT_MODEL

    def _subclasses(self) -> dict[str, list[str]]:
        if self._subclass_index is None:
            index: dict[str, list[str]] = {}
            for cid in sorted(self.project.classes):
                for base in self.project.base_ids(cid):
                    index.setdefault(base, []).append(cid)
            self._subclass_index = index
        return self._subclass_index

    def _function_builds(self, fid: str) -> str:
        found = self._builds_memo.get(fid)
        if found is None:
            self._builds_memo[fid] = UNSEEN
            found = self._builds_memo[fid] = self._builds(self.project.functions[fid], in_class=False)
        return found

    def _builds(self, fref: FunctionRef, in_class: bool, called: frozenset[str] = frozenset(), site: Site = (),
                handed: set | None = None) -> str:
        """What the modules a function builds make of its class: MODEL as soon as one is
        mode-dependent, UNSEEN when one comes from where evallint cannot look. ``site`` says
        what the function's parameters are given, when it is the ``__init__`` of one instance."""
        path = fref.file.path
        bound = self.sites.bound(fref, site)
        unseen = mode_free = False
        calls: dict[int, ir.Call] = {}
        for stmt in self.statements(fref):
            kind = type(stmt)
            if kind is ir.With:
                stmts = [item.call for item in stmt.items if item.call is not None]
            elif kind is ir.Call:
                stmts = [stmt]
            else:
                stmts = []
                if kind is ir.Assign and in_class:
                    verdict = self._stored(stmt, calls, fref, called, bound, handed)
                    if verdict == MODEL:
                        return MODEL
                    unseen = unseen or verdict == UNSEEN
                    mode_free = mode_free or verdict == MODE_FREE
                if kind is ir.If and stmt.cond is not None and "self.training" in stmt.cond.text:
                    return MODEL
            for call in stmts:
                calls[call.node] = call
                if any(isinstance(value, ir.TrainingFlagValue) for value in call.args) or any(
                    isinstance(value, ir.TrainingFlagValue) for _, value in call.kwargs
                ):
                    return MODEL
                if call.func is None:
                    continue
                qualified = self.project.qualify(path, call.func)
                if qualified in torch_api.MODE_SENSITIVE_FUNCTIONS:
                    return MODEL
                if constructs_module(qualified):
                    role = constructor_role(qualified, self._with_values(fref, call, bound))
                    if role == MODEL:
                        return MODEL
                    mode_free = mode_free or role == MODE_FREE
                    continue
                target = self.project.resolve(fref, call.func)
                if target is None:
                    continue
                if target in self.project.classes:
                    if self.is_module_class(target):
                        init = self.project.method_of(target, "__init__")
                        verdict = self.class_role_at(target, self.sites.site_of(fref, call, init, bound))
                        if verdict == MODEL:
                            return MODEL
                        unseen = unseen or verdict == UNSEEN
                        mode_free = mode_free or verdict == MODE_FREE
                elif target in self.project.functions and target != fref.id and not target.startswith(fref.id):
                    verdict = self._function_builds(target)
                    if verdict == MODEL:
                        return MODEL
                    unseen = unseen or verdict == UNSEEN
                    mode_free = mode_free or verdict == MODE_FREE
        return UNSEEN if unseen else MODE_FREE if mode_free else NOT_MODEL

    def _with_values(self, fref: FunctionRef, call: ir.Call, bound: dict) -> ir.Call:
        """``call`` with the arguments whose literal value is known here written as literals
        (``nn.Dropout(cfg["drop_rate"])`` built with ``cfg = {"drop_rate": 0.0}``)."""
        if not any(isinstance(value, ir.RefValue) for value in call.arguments):
            return call

        def literal(value: ir.Value) -> ir.Value:
            if not isinstance(value, ir.RefValue):
                return value
            found = self.sites.evaluate(fref, value, bound)
            return ir.ConstValue(found) if isinstance(found, (bool, int, float, str, type(None))) and not isinstance(found, Config) else value

        return ir.Call(
            call.node, call.func, call.receiver, call.method, tuple(literal(value) for value in call.args),
            tuple((name, literal(value)) for name, value in call.kwargs), call.statement, call.unpacked,
        )

    def _stored(self, stmt: ir.Assign, calls: dict[int, ir.Call], fref: FunctionRef, called: frozenset[str], bound: dict,
                handed: set | None = None) -> str:
        """``self.x = ...`` in a module's method: a submodule handed in, or built by a call that
        evallint cannot follow, is one it cannot see into (``handed`` collects ``__init__``'s)."""
        value = stmt.value
        if isinstance(value, ir.TrainingFlagValue):
            return MODEL
        if not any(
            target is not None and target.startswith("self.") and _runs(target, called) for target in stmt.targets
        ):
            return NOT_MODEL
        if isinstance(value, ir.RefValue) and value.key in fref.info.params[1:]:
            name = value.key.lower()
            if any(word in name for word in ("loss", "criterion", "metric", "cfg", "config")):
                return NOT_MODEL
            if handed is not None and fref.info.name == "__init__":
                handed.add(value.key)
                return NOT_MODEL
            return UNSEEN
        if isinstance(value, ir.CallValue):
            call = calls.get(value.node)
            if call is None or call.func is None:
                return NOT_MODEL
            qualified = self.project.qualify(fref.file.path, call.func)
            known = library_role(qualified, self._with_values(fref, call, bound))
            if known is not None:
                return known
            root = qualified.partition(".")[0]
            if root in _NOT_MODULE_BUILDERS or root in _NOT_MODULE_LIBRARIES or constructs_module(qualified):
                return NOT_MODEL
            if self.project.resolve(fref, call.func) is not None:
                return NOT_MODEL  # followed by ``_builds``
            return MODEL if qualified.startswith(torch_api.LIBRARY_MODEL_PREFIXES) else UNSEEN
        return NOT_MODEL

    # -- what training and evaluation are -----------------------------------------------------------

    def flow(self, fref: FunctionRef) -> OutputFlow:
        return self.flows.flow(fref)

    def graph_returns(self, fref: FunctionRef) -> frozenset[int]:
        return self.flows.graph_returns(fref)

    def forward_role(self, fref: FunctionRef, node: int) -> str:
        flow = self.flow(fref)
        if node in flow.to_backward:
            return TRAINING
        if node in flow.to_return and node in self.graph_returns(fref):
            return RETURNED
        if node in flow.in_step:
            return IN_STEP
        return LOCAL

    def weight_events(self, fref: FunctionRef) -> dict[str, tuple[int, ...]]:
        """Where this function gives each reference weights worth evaluating, as call nodes: a
        forward that reaches a backward followed by an optimizer step, a project function that
        trains it (``train_one_epoch(model)``), ``load_state_dict``, a whole ``torch.load``."""
        found = self._weights.get(fref.id)
        if found is not None:
            return found
        self._weights[fref.id] = {}  # (a recursive call gives no weights while this one is read)
        events: dict[str, list[int]] = {}

        def add(key: str, node: int) -> None:
            events.setdefault(key, []).append(node)

        flow = self.flow(fref)
        steps = bool(flow.sinks) and self.steps(fref)
        loaders: set[int] = set()
        calls: dict[int, ir.Call] = {}
        path = fref.file.path

        def loads(node: int) -> bool:
            # A project loader is read only where its result is kept: reading one means reading
            # the weights of every function it calls.
            if node in loaders:
                return True
            call = calls.get(node)
            return call is not None and call.func is not None and self._returns_weighted_model(fref, call.func)

        for stmt in self.statements(fref):
            kind = type(stmt)
            if kind is ir.Assign:
                if isinstance(stmt.value, ir.CallValue) and loads(stmt.value.node):
                    for target in stmt.targets:
                        if target is not None:
                            add(target, stmt.value.node)
                continue
            if kind is not ir.Call:
                continue
            calls[stmt.node] = stmt
            refs = [value.key for value in stmt.arguments if isinstance(value, ir.RefValue)]
            if steps and stmt.node in flow.to_backward and stmt.func is not None:
                add(forward_key(stmt), stmt.node)
                for key in refs:  # `loss = step_loss(model, x, y)`: a model handed to what computes the loss
                    add(key, stmt.node)
            if stmt.node in flow.sinks and stmt.node not in flow.to_backward:
                for key in refs:
                    add(key, stmt.node)
            if fref.info.qualname == "<module>":
                # A script's `train(src, target)` that steps the module's own `encoder`.
                for key in self.globals_trained_by(fref, stmt):
                    add(key, stmt.node)
            name = stmt.method or (stmt.func or "").rpartition(".")[2]
            if name in torch_api.LOAD_WEIGHTS_METHODS and isinstance(stmt.receiver, ir.RefValue):
                add(stmt.receiver.key, stmt.node)
            words = set(identifier_words(name))
            if "load" in words:
                if words & _WEIGHT_WORDS:  # `load_checkpoint(model, path)`, `load_model(model, path)`
                    for key in refs:
                        add(key, stmt.node)
                qualified = self.project.qualify(path, stmt.func) if stmt.func else ""
                if qualified in torch_api.WHOLE_MODEL_LOADERS or (name != "load_state_dict" and words & _WEIGHT_WORDS):
                    loaders.add(stmt.node)
            elif name in torch_api.PRETRAINED_METHODS or (stmt.kwargs and loads_pretrained_weights(self.project.qualified_callee(path, stmt), stmt)):
                loaders.add(stmt.node)
            elif name in torch_api.SELF_RETURNING_METHODS and isinstance(stmt.receiver, ir.CallValue) and loads(stmt.receiver.node):
                loaders.add(stmt.node)  # `torch.load(path).to(device)`: the loaded model itself
        found = self._weights[fref.id] = {key: tuple(nodes) for key, nodes in events.items()}
        return found

    def _returns_weighted_model(self, fref: FunctionRef, func: str) -> bool:
        """A project function that builds a model, loads weights into it (or trains it) and returns
        it. (Not one that is handed the model: preparing what a caller holds gives it no weights.)"""
        target = self.project.resolve(fref, func)
        callee = self.project.functions.get(target) if target is not None else None
        if callee is None:
            return False
        returned = {
            stmt.value.key
            for stmt in self.statements(callee)
            if type(stmt) is ir.Return and isinstance(stmt.value, ir.RefValue)
            and stmt.value.key.partition(".")[0] not in callee.info.params
        }
        return bool(returned) and bool(returned & set(self.weight_events(callee)))

    def has_weights_at(self, fref: FunctionRef, keys, node: int) -> bool:
        """Has one of ``keys`` weights worth evaluating when call ``node`` runs? Some event gave
        them before it, or shares a loop with it (the previous epoch trained them)."""
        events = self.weight_events(fref)
        places = self.flow(fref).places
        loops, order = places.get(node, ((), -1))
        # A submodule (`model.decoder`) has the weights its model was given.
        keys = {".".join(parts[:cut]) for parts in (key.split(".") for key in keys if key) for cut in range(1, len(parts) + 1)}
        for key in sorted(keys):
            for event in events.get(key, ()):
                event_loops, event_order = places.get(event, ((), -1))
                if event_order < order or set(loops) & set(event_loops):
                    return True
        return False

    def weighted_keys(self, fref: FunctionRef) -> frozenset[str]:
        return frozenset(self.weight_events(fref))

    def disables_grad(self, fid: str | None) -> bool:
        """Is this project function a decorator (or decorator factory) built on ``torch.no_grad``
        or ``torch.inference_mode``? Read from its body and the functions nested in it."""
        if fid is None or fid not in self.project.functions:
            return False
        found = self._grad_off_decorators.get(fid)
        if found is None:
            self._grad_off_decorators[fid] = False
            todo, seen, found = [fid], set(), False
            while todo and not found:
                current = todo.pop()
                if current in seen:
                    continue
                seen.add(current)
                fref = self.project.functions[current]
                found = any(
                    self.project.qualify(fref.file.path, chain) in torch_api.GRAD_OFF_CONTEXTS
                    for chain in chains_in(self.statements(fref))
                )
                todo.extend(self.project.nested.get(current, {}).values())
            self._grad_off_decorators[fid] = found
        return found

    def optimized(self, fref: FunctionRef) -> frozenset[str] | None:
        """The references whose parameters this function hands to an optimizer (``Adam(m.parameters())``),
        or None when it builds no optimizer (then the caller's is unknown). A model outside them
        (a frozen feature network, an EMA copy, an input image being optimised) is not trained here."""
        if fref.id in self._optimized:
            return self._optimized[fref.id]
        owners: set[str] = set()
        builds = False
        calls = {stmt.node: stmt for stmt in self.statements(fref) if type(stmt) is ir.Call}
        sources = self.flow(fref).sources
        for call in calls.values():
            values = call.arguments
            if not _builds_optimizer(call, values, calls, self.project.qualify(fref.file.path, call.func) if call.func else ""):
                continue
            builds = True
            owners.update(references_in(values))
            # What the parameter list was computed from, through variables: `params =
            # list(model.parameters())`, `param_groups(model)`.
            for node in sources.get(call.node, ()):
                source = calls.get(node)
                if source is None or source is call:
                    continue
                if source.method in _PARAMETER_METHODS and isinstance(source.receiver, ir.RefValue):
                    owners.add(source.receiver.key)
                owners.update(references_in([*source.args, *(value for _, value in source.kwargs)]))
        found = self._optimized[fref.id] = frozenset(owners) if builds else None
        return found

    def optimized_inputs(self, fref: FunctionRef) -> tuple[str, ...]:
        """The tensors this function's optimizers update, where every optimizer it builds is a
        ``torch.optim`` class given a list of them (``SGD([image], lr=6)``): an input optimised
        through a model (class visualisation, DeepDream). Empty otherwise."""
        inputs: set[str] = set()
        calls = {stmt.node: stmt for stmt in self.statements(fref) if type(stmt) is ir.Call}
        for call in calls.values():
            qualified = self.project.qualify(fref.file.path, call.func) if call.func else ""
            if not _builds_optimizer(call, call.arguments, calls, qualified):
                continue
            listed = call.args[0] if call.args and qualified.startswith("torch.optim.") else None
            if not isinstance(listed, ir.TupleValue) or not all(isinstance(item, ir.RefValue) for item in listed.items):
                return ()
            inputs.update(item.key for item in listed.items)
        return tuple(sorted(inputs))


_PARAMETER_METHODS = frozenset({"parameters", "named_parameters", "modules", "children", "named_modules"})


def _runs(attribute: str, called: frozenset[str]) -> bool:
    """Is ``self.x`` called, or a method of it (``self.backbone.forward_features(x)``)?"""
    prefix = attribute + "."
    return any(chain == attribute or chain.startswith(prefix) for chain in called)


def _builds_optimizer(call: ir.Call, values, calls: dict, qualified: str) -> bool:
    if qualified.startswith("torch.optim.") and qualified.rpartition(".")[2][:1].isupper():
        return True
    if any(name in ("params", "parameters") for name, _ in call.kwargs):
        return True
    name = (call.func or call.method or "").rpartition(".")[2]
    if "optim" in name.lower() and not name.lower().startswith(("step", "zero")):
        return True
    # `Lion(model.parameters())`: a class built over parameters (not `clip_grad_norm_(...)`).
    return name[:1].isupper() and any(
        isinstance(value, ir.CallValue) and value.node in calls and calls[value.node].method in ("parameters", "named_parameters")
        for value in values
    )


@functools.lru_cache(maxsize=1 << 16)
def constructs_module(qualified: str) -> bool:
    """Does calling this (qualified) name build a torch module (``nn.Linear``, ``timm.create_model``)?"""
    if qualified in torch_api.MODULE_FACTORY_FUNCTIONS:
        return True
    if qualified.startswith(torch_api.NON_MODULE_PREFIXES):
        return False
    last = qualified.split(".")[-1]
    if qualified.startswith(torch_api.MODULE_FACTORY_PREFIXES) and not last.startswith(("_", "get_")):
        return True
    return qualified.startswith(torch_api.MODULE_CONSTRUCTOR_PREFIXES) and last[:1].isupper()

