"""What `verify` counts as a model whose mode matters, and as an evaluation forward.

The same definitions as the static analysis (DESIGN.md, "What a model is" and
"What evaluation and training are, by data flow"), in their runtime form:

* **Mode-dependent layers.** A module's mode matters only through the layers
  that compute differently in train and eval mode: Dropout with ``p > 0``
  (every ``_DropoutNd``, AlphaDropout included), BatchNorm / SyncBatchNorm and
  InstanceNorm that keep running statistics, RNN/LSTM/GRU with ``dropout > 0`` and more than one layer,
  MultiheadAttention with ``dropout > 0`` (Transformer layers hold Dropout
  modules of their own).
  A module with none of them (``CrossEntropyLoss``, ``Linear``, a GRU without
  dropout) computes the same in both modes, so no EVL101/EVL102 is confirmed
  on it. A ``forward`` that reads ``self.training`` itself is not seen: the
  verifier judges by the layers, which is what it can name as evidence.
  BatchNorm without running statistics (no ``running_mean`` buffer) normalises
  by the batch in both modes and does not count.
* **Training forward.** A forward whose output reached a backward: gradient
  flowed into one of its output tensors (``ForwardStats.trained``), or a tensor
  computed from its output (``.detach()``, ``argmax``, ``softmax``... the
  pseudo-labels or targets of a training step) was combined with a tensor that
  requires grad and gradient flowed through that result (``ForwardStats.fed``).
  ``dataflow.OutputFlow`` follows those tensors; under ``no_grad`` this is the
  only way to see where an output goes.
* **Evaluation forward.** A forward of a *trained* model (an optimizer stepped
  its parameters, one of its forwards was backpropagated, or its weights were
  loaded with ``load_state_dict``/``torch.load``, all before this forward) whose
  output reached no backward by the end of the run. The name of the calling
  function, the loader and no_grad are not part of the test; a forward of a
  model that was never trained nor loaded (a shape probe) is not evaluation.
"""

from __future__ import annotations

NO_MODE_LAYER_REASON = (
    "holds no Dropout, BatchNorm or other mode-dependent layer: its mode changes nothing"
)


def mode_dependent_layers(module, nn) -> list:
    """(layer, description, tracks_running_stats) for each layer of ``module`` whose output depends on its mode."""
    found = []
    for layer in module.modules():
        if isinstance(layer, nn.modules.dropout._DropoutNd):
            if layer.p:  # p=0 is the identity in both modes
                found.append((layer, f"{type(layer).__name__}(p={layer.p:g})", False))
        elif isinstance(layer, nn.modules.batchnorm._BatchNorm):
            # Without running statistics both modes normalise by the batch.
            if layer.running_mean is not None:
                found.append((layer, type(layer).__name__, bool(layer.track_running_stats)))
        elif isinstance(layer, nn.modules.instancenorm._InstanceNorm):
            if layer.track_running_stats:
                found.append((layer, f"{type(layer).__name__}(track_running_stats)", True))
        elif isinstance(layer, nn.RNNBase) and layer.dropout and layer.num_layers > 1:  # (it drops between layers)
            found.append((layer, f"{type(layer).__name__}(dropout={layer.dropout:g})", False))
        elif isinstance(layer, nn.MultiheadAttention) and layer.dropout:
            found.append((layer, f"MultiheadAttention(dropout={layer.dropout:g})", False))
    return found


def has_mode_dependent_layers(sig: dict) -> bool:
    """Whether the module of a forward or step signature holds any mode-dependent layer."""
    return bool(sig.get("active") or sig.get("inactive"))


def trained_in_eval_mode(sig: dict) -> list:
    """The eval-mode layers of a forward or step signature outside the model's frozen part, as
    (description, count) pairs: those a training step in eval mode really changes. A linear
    probe's frozen backbone, kept in eval mode on purpose, has none."""
    frozen = dict(sig.get("frozen", ()))
    return [[description, count - frozen.get(description, 0)]
            for description, count in sig["inactive"] if count > frozen.get(description, 0)]


def is_training_forward(stats) -> bool:
    """Some call at this site reached a backward, directly or through tensors computed from its output."""
    return bool(stats.trained or stats.fed)


def is_evaluation_forward(stats) -> bool:
    """Calls at this site ran a trained model and none of their outputs reached a backward.

    An output with no tensor the probes can follow (a custom result object)
    might reach one unseen, so such a site is not called evaluation.
    """
    return (bool(stats.sig.get("trained_model")) and not stats.opaque
            and not is_training_forward(stats))
