"""`from models import *` brings the model classes (and torch): evallint follows the star import,
so it knows LinearNet has no mode to forget and DropoutNet has."""
from models import *


def fit(net, batches):
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    for x, y in batches:
        optimizer.zero_grad()
        ((net(x) - y) ** 2).mean().backward()
        optimizer.step()


def validate(net, batches):
    with torch.no_grad():
        return sum(((net(x) - y) ** 2).mean().item() for x, y in batches)  # EVL101


batches = [(torch.randn(8, 4), torch.randn(8, 1))]
model = LinearNet()
fit(model, batches)
with torch.no_grad():
    print(sum(((model(x) - y) ** 2).mean().item() for x, y in batches))
dropout = DropoutNet()
fit(dropout, batches)
print(validate(dropout, batches))
