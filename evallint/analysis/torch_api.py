"""What evallint knows about torch and the libraries around it, as data.

Names are fully qualified (after import resolution) unless a table says it
matches by the last attribute only. Every table of torch names lives here, for
the analysis, the rules' fixes and the runtime judges alike, so that what
evallint knows about torch changes in one place.
"""

from __future__ import annotations

# Context managers / decorators that switch autograd off or on.
GRAD_OFF_CONTEXTS = frozenset(
    {
        "torch.no_grad",
        "torch.inference_mode",
        "torch.autograd.no_grad",
        "torch.autograd.grad_mode.no_grad",
        "torch.autograd.grad_mode.inference_mode",
    }
)
GRAD_ON_CONTEXTS = frozenset({"torch.enable_grad", "torch.autograd.enable_grad", "torch.autograd.grad_mode.enable_grad"})
SET_GRAD_ENABLED = frozenset(
    {"torch.set_grad_enabled", "torch.autograd.set_grad_enabled", "torch.autograd.grad_mode.set_grad_enabled"}
)
# Bare statements of these are no-ops (the object is built and thrown away).
GRAD_CONTEXT_FACTORIES = GRAD_OFF_CONTEXTS | GRAD_ON_CONTEXTS

# The same contexts by their last attribute, for what reads source text without resolving imports
# (the fixes' libcst rewrites, the runtime judges): `with no_grad():` after `from torch import no_grad`.
GRAD_OFF_CONTEXT_ATTRIBUTES = frozenset(name.rsplit(".", 1)[-1] for name in GRAD_OFF_CONTEXTS | SET_GRAD_ENABLED)
GRAD_ON_CONTEXT_ATTRIBUTES = frozenset(name.rsplit(".", 1)[-1] for name in GRAD_ON_CONTEXTS | SET_GRAD_ENABLED)
GRAD_CONTEXT_FACTORY_ATTRIBUTES = frozenset(name.rsplit(".", 1)[-1] for name in GRAD_CONTEXT_FACTORIES)
# A function that uses these attributes or names needs autograd, so `@torch.no_grad()` on it would break it.
NEEDS_GRAD_ATTRIBUTES = frozenset({"backward", "step", "zero_grad", "enable_grad", "set_grad_enabled", "grad"})
NEEDS_GRAD_NAMES = frozenset({"enable_grad", "set_grad_enabled", "requires_grad_"})

# Module methods that switch mode.
MODE_METHODS = frozenset({"eval", "train"})

# Calls that mark a training step, matched by their last attribute.
BACKWARD_METHODS = frozenset({"backward"})
# `optimizer.step()`, `scaler.step(optimizer)`, `lr_scheduler.step()` is excluded by receiver name.
STEP_METHODS = frozenset({"step"})
STEP_RECEIVER_WORDS = frozenset({"optimizer", "optim", "opt", "optimiser", "scaler", "optimizers", "solver"})
STEP_RECEIVER_EXCLUDE_WORDS = frozenset({"scheduler", "sched", "lr", "env", "environment", "sim"})
# Functions (qualified) whose call is a backward pass.
BACKWARD_FUNCTIONS = frozenset({"torch.autograd.backward"})
# Calls that need autograd on (their presence means an evaluation region wants gradients).
GRAD_REQUIRING_FUNCTIONS = frozenset({"torch.autograd.grad", "torch.autograd.functional.jacobian"})

# Wrappers that forward mode to the wrapped module: `DDP(model)` is the same model for mode purposes.
WRAPPER_CALL_NAMES = frozenset(
    {
        "DataParallel",
        "DistributedDataParallel",
        "DDP",
        "FSDP",
        "FullyShardedDataParallel",
        "compile",
        "unwrap_model",
        "de_parallel",
        "unwrap",
        "get_model",
        "_unwrap_model",
        "MMDataParallel",  # OpenMMLab's (mmcv) DataParallel subclasses
        "MMDistributedDataParallel",
    }
)
# Methods returning the module itself (`model = model.to(device)` keeps identity).
SELF_RETURNING_METHODS = frozenset(
    {"to", "cuda", "cpu", "half", "float", "double", "bfloat16", "train", "eval", "requires_grad_", "to_empty", "share_memory", "type"}
)
# Attribute that reaches the wrapped module of a wrapper.
WRAPPED_MODULE_ATTRS = frozenset({"module", "_orig_mod"})

# Construction that returns a module in eval mode.
PRETRAINED_METHODS = frozenset({"from_pretrained"})
# `X.from_pretrained(...)` of these classes builds a pipeline whose call runs its (eval-mode)
# models with autograd off itself: diffusers' `__call__` is under `@torch.no_grad()`.
GRAD_OFF_PIPELINE_ENDINGS = ("Pipeline",)
# Copies keep the mode of the original.
COPY_FUNCTIONS = frozenset({"copy.deepcopy", "deepcopy"})

# Known module base classes (qualified) for project classes that define models.
MODULE_BASES = frozenset(
    {
        "torch.nn.Module",
        "torch.nn.modules.module.Module",
        "nn.Module",
        "pytorch_lightning.LightningModule",
        "lightning.LightningModule",
        "lightning.pytorch.LightningModule",
        "pytorch_lightning.core.LightningModule",
        "lightning.pytorch.core.LightningModule",
        "transformers.PreTrainedModel",
    }
)
LIGHTNING_BASES = frozenset(
    {
        "pytorch_lightning.LightningModule",
        "lightning.LightningModule",
        "lightning.pytorch.LightningModule",
        "pytorch_lightning.core.LightningModule",
        "lightning.pytorch.core.LightningModule",
        "pytorch_lightning.core.module.LightningModule",
        "lightning.pytorch.core.module.LightningModule",
    }
)
HF_TRAINER_BASES = frozenset({"transformers.Trainer", "transformers.Seq2SeqTrainer", "trl.SFTTrainer"})
# Lightning runs these hooks with the module in eval mode and inference mode on.
LIGHTNING_EVAL_HOOKS = frozenset(
    {
        "validation_step",
        "test_step",
        "predict_step",
        "on_validation_epoch_end",
        "on_test_epoch_end",
        "validation_epoch_end",
        "test_epoch_end",
        "on_validation_batch_end",
        "on_test_batch_end",
        "on_predict_epoch_end",
    }
)
LIGHTNING_TRAIN_HOOKS = frozenset({"training_step", "training_epoch_end", "on_train_batch_end", "on_train_epoch_end"})

# Module constructors matched by qualified prefix: `torch.nn.Linear(...)` is a fresh module in train mode.
MODULE_CONSTRUCTOR_PREFIXES = ("torch.nn.", "torchvision.models.", "timm.models.")
# (`torch.hub.load` is no factory of a known mode: a hub entry point may wrap and switch its model.)
# OpenMMLab's registry builders construct the model a config describes: a fresh module too.
MODULE_FACTORY_FUNCTIONS = frozenset(
    {
        "timm.create_model",
        "timm.models.create_model",
        "mmdet.models.build_detector",
        "mmdet.models.builder.build_detector",
        "mmcls.models.build_classifier",
        "mmcls.models.builder.build_classifier",
        "mmseg.models.build_segmentor",
        "mmseg.models.builder.build_segmentor",
    }
)
# Model zoos whose functions build modules: `torchvision.models.resnet50()` is a fresh module in train mode.
MODULE_FACTORY_PREFIXES = ("torchvision.models.", "pretrainedmodels.", "monai.networks.nets.")
# MONAI's networks: its classifiers (ResNet, DenseNet, SENet, EfficientNet families) hold BatchNorm;
# its segmentation networks default to instance or group norm without dropout, so their mode
# matters only when a keyword asks for dropout or batch norm (`UNet(..., dropout=0.2)`).
MONAI_NETS_PREFIX = "monai.networks.nets."
MONAI_BATCH_NORM_FAMILIES = ("resnet", "densenet", "senet", "seresnet", "seresnext", "efficientnet", "vgg")
# Keywords by which a library model's constructor loads its pretrained weights
# (`resnet18(pretrained=True)`, `resnet18(weights=ResNet18_Weights.DEFAULT)`, `timm.create_model(name, pretrained=True)`).
PRETRAINED_KEYWORDS = frozenset({"pretrained", "weights"})
# `torch.nn.functional` and friends live under torch.nn but are not modules.
NON_MODULE_PREFIXES = ("torch.nn.functional.", "torch.nn.init.", "torch.nn.utils.", "torch.nn.parallel.")

# Methods on a module whose receiver is therefore a module (evidence of model-ness). Not
# `state_dict`/`load_state_dict`/`zero_grad`: optimizers, schedulers and loss scalers have them too.
MODULE_ONLY_METHODS = frozenset(
    {
        "eval",
        "train",
        "parameters",
        "named_parameters",
        "modules",
        "named_modules",
        "children",
        "named_children",
        "requires_grad_",
        "buffers",
        "named_buffers",
        "register_forward_hook",
        "register_forward_pre_hook",
    }
)

# Calls that take a model and leave its mode alone (anything else unresolved lowers what is known).
MODE_NEUTRAL_CALLS = frozenset(
    {
        "super",  # `super(Net, self).__init__()`
        "print",
        "len",
        "isinstance",
        "type",
        "id",
        "str",
        "repr",
        "hasattr",
        "getattr",
        "setattr",
        "vars",
        "dir",
        "sum",
        "list",
        "tuple",
        "iter",
        "next",
        "enumerate",
        "zip",
        "save",
        "info",
        "debug",
        "warning",
        "log",
        "watch",
        "count_parameters",
        "count_params",
        "summary",
        "parameters_to_vector",
        "clip_grad_norm_",
        "update",
        "update_parameters",
        "prepare",
        "wrap",
        "deepcopy",
        "register",
        "save_model",
        "save_checkpoint",
        "load_checkpoint",
        "load_state_dict",
        "barrier",
        "broadcast",
        "optimizer",
        "SGD",
        "Adam",
        "AdamW",
        "format",
        "to",
        "cast",
        "apply",
        "init_weights",
        "initialize_weights",
        "trunc_normal_",
        "convert_sync_batchnorm",
        "MMDataParallel",  # mmcv's DataParallel: wraps the module, leaves its mode alone
        "MMDistributedDataParallel",
    }
)

# -- what a model is (read by analysis.roles) ----------------------------------------------------
# torch.nn layers whose behaviour depends on train/eval mode, always.
MODE_SENSITIVE_LAYERS = frozenset(
    {
        "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
        "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm",
        "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d",
    }
)
# Mode-sensitive only when a keyword says so: (layer, keyword, default is sensitive).
MODE_SENSITIVE_IF = {
    "RNN": ("dropout", False), "LSTM": ("dropout", False), "GRU": ("dropout", False),
    "MultiheadAttention": ("dropout", False),
    "Transformer": ("dropout", True), "TransformerEncoderLayer": ("dropout", True),
    "TransformerDecoderLayer": ("dropout", True),
    "InstanceNorm1d": ("track_running_stats", False), "InstanceNorm2d": ("track_running_stats", False),
    "InstanceNorm3d": ("track_running_stats", False),
}
# Functions that behave by mode when given `training=self.training` (or drop always by default).
MODE_SENSITIVE_FUNCTIONS = frozenset(
    {
        "torch.nn.functional.dropout", "torch.nn.functional.dropout1d", "torch.nn.functional.dropout2d",
        "torch.nn.functional.dropout3d", "torch.nn.functional.alpha_dropout",
        "torch.nn.functional.feature_alpha_dropout", "torch.nn.functional.batch_norm", "torch.dropout",
    }
)
# torch.nn containers: what they hold decides (their arguments are calls of their own).
MODULE_CONTAINERS = frozenset({"Sequential", "ModuleList", "ModuleDict"})
# torch.nn layers without parameters (pooling layers are told by "Pool" in their name): not models.
PARAMETER_FREE_LAYERS = frozenset(
    {
        "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Sigmoid", "Tanh",
        "Softmax", "Softmax2d", "LogSoftmax", "Softmin", "Softplus", "Softsign", "Softshrink", "Hardshrink",
        "Hardtanh", "Hardswish", "Hardsigmoid", "Tanhshrink", "Threshold", "GLU", "LogSigmoid", "Flatten",
        "Unflatten", "Identity", "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "PixelShuffle",
        "PixelUnshuffle", "ChannelShuffle", "CosineSimilarity", "PairwiseDistance", "Fold", "Unfold",
        "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
        "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
        "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d",
    }
)
# Class-name endings of modules that are losses or metrics, never models.
LOSS_NAME_ENDINGS = ("Loss", "Criterion", "Metric", "Metrics", "Meter")
# `X.from_pretrained(...)` of these classes loads no model: `AutoTokenizer`, `CLIPProcessor`...
NOT_MODEL_PRETRAINED_ENDINGS = ("Tokenizer", "TokenizerFast", "Processor", "Config", "FeatureExtractor",
                                "ImageProcessor", "Scheduler", "GenerationConfig")
# Libraries that build no torch module: what their calls return is never a model, whatever the
# name it is kept under (`self.model = tiktoken.Encoding(...)` in a tokenizer class). Loaders that
# may unpickle a module (`pickle`, `joblib`) are not among them.
NON_MODEL_LIBRARY_PREFIXES = ("tiktoken.", "sentencepiece.", "tokenizers.", "nltk.", "spacy.", "numpy.",
                              "pandas.", "PIL.", "cv2.", "sklearn.", "scipy.", "matplotlib.",
                              "torchaudio.models.decoder.")
# Frameworks other than torch: a project class deriving from one of their classes
# (`class Model(tf.keras.Model)`) is no torch module, whatever its instances are called.
OTHER_FRAMEWORK_PREFIXES = ("tensorflow.", "keras.", "tf_keras.", "flax.", "haiku.")
# Calls whose result is a library model evallint cannot see into (mode matters).
LIBRARY_MODEL_PREFIXES = ("torchvision.models.", "timm.", "transformers.", "segmentation_models_pytorch.",
                          "torch.hub.", "efficientnet_pytorch.", "pretrainedmodels.", "clip.")
# Libraries whose layers and models are mode-free unless a keyword asks for dropout or
# normalisation (`GCN(..., dropout=0.5)`, `GraphSAGE(..., norm="batch_norm")`).
MODE_FREE_UNLESS_ASKED_PREFIXES = ("torch_geometric.nn.",)
MODE_ASKING_KEYWORDS = frozenset({"dropout", "drop", "p", "norm", "batch_norm", "dropout_rate", "attn_dropout"})
# Methods of a model that run its network (the forward is recorded at their call).
NETWORK_METHOD_PREFIXES = ("forward", "encode", "decode", "embed", "extract_feat")
# Attribute names read in a module's methods that make it mode-dependent.
TRAINING_FLAG = "training"

# -- weights (a model whose weights are loaded or trained is worth evaluating) ----------------------
WHOLE_MODEL_LOADERS = frozenset({"torch.load", "torch.jit.load", "torch.export.load"})
LOAD_WEIGHTS_METHODS = frozenset({"load_state_dict", "load_weights", "load_checkpoint", "load_pretrained"})
# Sinks of the data flow: calls that backpropagate their operand (matched by method name).
BACKWARD_SINK_METHODS = frozenset({"backward", "manual_backward"})
