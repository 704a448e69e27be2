"""Two agent classes, the second derived from the first, picked by a setting: after the `if`,
`agent` is one or the other, and `agent.train(env)` runs that class's own train(). The explorer's
rollouts run its policy with autograd on, a graph built for every step of the environment."""
import torch
from torch import nn


class Agent:
    def __init__(self):
        self.policy = nn.Linear(4, 2)
        self.optimizer = torch.optim.Adam(self.policy.parameters())

    def collect(self, env):
        with torch.no_grad():
            env.act(self.policy(env.observe()))

    def update(self, env):
        loss = self.policy(env.replay()).sum()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()

    def train(self, env):
        for _ in range(10):
            self.collect(env)
            self.update(env)


class Explorer(Agent):
    def explore(self, env):
        env.act(self.policy(env.observe()))  # EVL201

    def train(self, env):
        for _ in range(10):
            self.explore(env)
            self.update(env)


def main(kind, env):
    if kind == "plain":
        agent = Agent()
    elif kind == "explore":
        agent = Explorer()
    agent.train(env)
