"""A project's shared namespace: torch and the layers, for its models to star-import."""

import torch
import torch.nn as nn

from star_import_layers import *

HIDDEN = 64
