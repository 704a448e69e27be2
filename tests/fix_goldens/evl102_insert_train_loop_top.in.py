import torch


def validate(model, loader):
    model.eval()
    with torch.no_grad():
        return sum(model(x).sum().item() for x in loader)


def fit(model, train_loader, val_loader, optimizer, epochs):
    model.train()
    for epoch in range(epochs):
        for x, y in train_loader:
            loss = model(x).sum()  # forward
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        validate(model, val_loader)
