"""Where the results of each function's calls go (``dataflow.output_flow``), computed once per
function and kept: the flow itself, the calls whose graph a ``return`` hands out, and the
parameters a function's own backward reaches, which its callers' flows read through the calls
of project functions that train."""

from __future__ import annotations

from evallint.analysis import ir
from evallint.analysis.callgraph import FunctionRef, ProjectIndex, passed_values
from evallint.analysis.dataflow import GRAPH_CUTTING_METHODS, OutputFlow, graph_returns, output_flow


class FunctionFlows:
    def __init__(self, project: ProjectIndex, statements, sink_kind, training_callee) -> None:
        self.project = project
        self.statements = statements  # FunctionRef -> flattened statements
        self.sink_kind = sink_kind  # (FunctionRef, Call) -> dataflow.BACKWARD, TRAINS or 0
        self.training_callee = training_callee  # (FunctionRef, Call) -> the project function it reaches that trains, or None
        self._flows: dict[str, OutputFlow] = {}
        self._backpropagated: dict[str, frozenset[str]] = {}
        self._graph_returns: dict[str, frozenset[int]] = {}

    def flow(self, fref: FunctionRef) -> OutputFlow:
        found = self._flows.get(fref.id)
        if found is None:
            found = self._flows[fref.id] = output_flow(
                fref.info.body, lambda call: self.sink_kind(fref, call), (), lambda call: self._trained_arguments(fref, call),
            )
        return found

    def backpropagated_params(self, fref: FunctionRef) -> frozenset[str]:
        """The parameters whose values this function's own backward reaches. (Through its own
        backward calls only, not those of functions it hands them to: so no answer depends on
        which function of a recursive cycle was asked first.)"""
        found = self._backpropagated.get(fref.id)
        if found is None:
            flow = output_flow(fref.info.body, lambda call: self.sink_kind(fref, call), _data_params(fref))
            found = self._backpropagated[fref.id] = flow.backpropagated_params
        return found

    def _trained_arguments(self, fref: FunctionRef, call: ir.Call) -> list[ir.Value]:
        """The arguments of a call of a project function that trains which that function
        backpropagates (`finish_episode(actions, values)`), not only reads as data."""
        target = self.training_callee(fref, call)
        if target is None or call.unpacked:
            return []
        callee = self.project.functions[target]
        trained = self.backpropagated_params(callee)
        if not trained:
            return []
        return [value for name, value in passed_values(callee, call, call.method is not None) if name in trained]

    def graph_returns(self, fref: FunctionRef) -> frozenset[int]:
        found = self._graph_returns.get(fref.id)
        if found is None:
            if any(type(stmt) is ir.Call and stmt.method in GRAPH_CUTTING_METHODS for stmt in self.statements(fref)):
                found = graph_returns(fref.info.body, lambda call: self.sink_kind(fref, call))
            else:
                found = self.flow(fref).to_return  # nothing cuts a graph: the same walk
            self._graph_returns[fref.id] = found
        return found


def _data_params(fref: FunctionRef) -> tuple[str, ...]:
    """A function's parameters, without a method's ``self`` or ``cls``."""
    params = fref.info.params
    if fref.info.class_name is not None and params[:1] in (("self",), ("cls",)):
        return params[1:]
    return params
