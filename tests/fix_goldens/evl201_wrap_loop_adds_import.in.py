"""Training script without a module-level torch import."""
from torch import nn

model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
val_loader = [1, 2]

model.eval()
for batch in val_loader:
    scores = model(
        batch,  # the raw batch
    )
    text = """a multi-line
string that must not move"""
