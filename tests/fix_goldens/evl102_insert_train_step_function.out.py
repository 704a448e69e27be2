import torch


def validate(model, loader):
    model.eval()
    with torch.no_grad():
        return sum(model(x).sum().item() for x in loader)


def train_step(model, batch, optimizer):
    """One optimisation step."""
    model.train()
    loss = model(batch).sum()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss


def fit(model, loader, optimizer):
    model.train()
    for batch in loader:
        train_step(model, batch, optimizer)
        validate(model, loader)
