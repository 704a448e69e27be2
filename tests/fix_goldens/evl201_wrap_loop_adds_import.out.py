"""Training script without a module-level torch import."""
from torch import nn
import torch

model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
val_loader = [1, 2]

model.eval()
with torch.no_grad():
    for batch in val_loader:
        scores = model(
            batch,  # the raw batch
        )
        text = """a multi-line
string that must not move"""
