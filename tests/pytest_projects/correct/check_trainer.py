import torch

from trainer import Net, fit, make_batches, train_one_epoch, validate


def test_one_epoch_returns_a_finite_loss():
    torch.manual_seed(0)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    assert torch.isfinite(torch.tensor(train_one_epoch(model, make_batches(32, 0), optimizer)))


def test_validate_gives_an_accuracy():
    torch.manual_seed(0)
    assert 0.0 <= validate(Net(), make_batches(32, 1)) <= 1.0


def test_fit_runs_and_learns_something():
    torch.manual_seed(0)
    assert fit(Net()) > 0.3


def test_output_shape():
    assert Net()(torch.randn(4, 8)).shape == (4, 2)
