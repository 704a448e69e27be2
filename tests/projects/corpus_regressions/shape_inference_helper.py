"""`infer_conv_output_dim` runs a dummy forward to learn a shape: not model inference."""
import torch
from torch import nn


def infer_conv_output_dim(conv_op, input_dim, sample_inchannel):
    x = torch.randn(10, sample_inchannel, 50, input_dim)
    return conv_op(x).shape[-1]


def build(input_dim):
    conv_model = nn.Conv2d(1, 4, 3)
    return infer_conv_output_dim(conv_model, input_dim, 1)
