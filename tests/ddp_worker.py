"""Run by test_train.py under torchrun with 2 CPU processes: trains a small GIN graph
classifier on ENZYMES with the Trainer and saves each rank's final weights."""
import os
import sys

import torch
import torch.distributed as dist
from torch import nn

from graphsci import nn as gnn
from graphsci.data import GraphDataset, load_tu
from graphsci.train import Trainer


class GIN(nn.Module):
    def __init__(self, d_in, d_hidden, n_classes):
        super().__init__()
        self.conv1 = gnn.GINConv(nn.Sequential(nn.Linear(d_in, d_hidden), nn.ReLU()), train_eps=True)
        self.conv2 = gnn.GINConv(nn.Sequential(nn.Linear(d_hidden, d_hidden), nn.ReLU()))
        self.pool = gnn.SumReadout()
        self.out = nn.Linear(d_hidden, n_classes)

    def forward(self, g, x):
        return self.out(self.pool(g, self.conv2(g, self.conv1(g, x))))


def main(out_dir, data_root):
    torch.set_num_threads(1)
    ds = load_tu("ENZYMES", data_root)
    train, val = GraphDataset(ds.samples[:96]), GraphDataset(ds.samples[96:128])
    torch.manual_seed(int(os.environ["RANK"]))  # different initial weights per rank on purpose
    model = GIN(ds[0].x.shape[1], 16, 6)
    Trainer(max_epochs=3, lr=0.01, batch_size=16, progress=False, seed=0).fit_graphs(model, train, val)
    torch.save({k: v.clone() for k, v in model.state_dict().items()},
               os.path.join(out_dir, f"rank{dist.get_rank()}.pt"))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
