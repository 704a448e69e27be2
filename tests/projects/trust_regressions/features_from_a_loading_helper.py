"""Feature extraction with a model a project helper builds (a MONAI ResNet, BatchNorm inside)
and loads weights into: the helper is a loader, and features taken out as numpy arrays and
returned carry no graph back to any caller, so the loop is an evaluation. The second function
calls eval() and no_grad() and stays quiet; a MONAI UNet at its defaults has no mode to forget."""
import numpy as np
import torch
from monai.networks.nets import UNet
from monai.networks.nets import resnet18 as monai_resnet18


def load_encoder(path, device="cpu"):
    encoder = monai_resnet18(spatial_dims=3, n_input_channels=1, feed_forward=False)
    encoder = encoder.to(device)
    encoder.load_state_dict(torch.load(path, map_location=device))
    return encoder


def extract_features(path, loader):
    encoder = load_encoder(path)
    features = []
    for volume in loader:
        features.append(encoder(volume).detach().cpu().numpy())  # EVL101, EVL201
    return np.concatenate(features)


def extract_features_in_eval_mode(path, loader):
    encoder = load_encoder(path)
    encoder.eval()
    features = []
    with torch.no_grad():
        for volume in loader:
            features.append(encoder(volume).cpu().numpy())
    return np.concatenate(features)


def load_segmenter(path):
    net = UNet(spatial_dims=3, in_channels=1, out_channels=2, channels=(8, 16), strides=(2,))
    net.load_state_dict(torch.load(path))
    return net


def segment(path, loader):
    net = load_segmenter(path)
    masks = []
    with torch.no_grad():
        for volume in loader:
            masks.append(net(volume).argmax(1).numpy())
    return masks
