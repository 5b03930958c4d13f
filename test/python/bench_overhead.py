"""Cost of the Optimizer Lens logging snippet per logged step (CPU), on the tiny test model and on a
~10M-parameter MLP, with Adam and with AdamW (whose decoupled decay the snippet takes out of the
direction: one more pass over each chunk).

    /usr/bin/python3 test/python/bench_overhead.py [--repeats 20] [--snippet paste.py]

For each model: the median time of one training step without the snippet, of optimizer.step() alone,
and the extra time before_step() + after_step() add on a logged step (including writing the JSONL) and
on a step that is not logged. Not a test (no timing assertions anywhere); numbers go into the README.
"""
import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from train_tiny import Tiny, USED_IDS  # noqa: E402


def mlp10m():
    return nn.Sequential(nn.Linear(1024, 2048), nn.GELU(), nn.Linear(2048, 2048), nn.GELU(),
                         nn.Linear(2048, 1024), nn.GELU(), nn.Linear(1024, 1024), nn.GELU(), nn.Linear(1024, 512))


def load_logger(path):
    spec = importlib.util.spec_from_file_location("lens", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.OptimizerLensLogger


def measure(name, model, make_batch, loss_of, repeats, Logger, optimizer_class=torch.optim.Adam):
    optimizer = optimizer_class(model.parameters(), lr=1e-4)
    path = os.path.join(tempfile.mkdtemp(), "lens.jsonl")
    logged = Logger(model, optimizer, path, every=1)
    never = Logger(model, optimizer, path + ".never", every=10 ** 9, log_first_step=False)
    batch = make_batch()
    plain_step, opt_step, logged_extra, unlogged_extra = [], [], [], []

    def backward():
        optimizer.zero_grad(set_to_none=True)
        loss_of(model, batch).backward()

    for i in range(repeats + 3):
        warm = i < 3
        t0 = time.perf_counter()
        backward()
        t1 = time.perf_counter()
        optimizer.step()
        t2 = time.perf_counter()
        if not warm:
            plain_step.append(t2 - t0)
            opt_step.append(t2 - t1)
        backward()
        t0 = time.perf_counter()
        logged.before_step()
        t1 = time.perf_counter()
        optimizer.step()
        t2 = time.perf_counter()
        logged.after_step()
        t3 = time.perf_counter()
        if not warm:
            logged_extra.append((t1 - t0) + (t3 - t2))
        backward()
        t0 = time.perf_counter()
        never.before_step()
        t1 = time.perf_counter()
        optimizer.step()
        t2 = time.perf_counter()
        never.after_step()
        t3 = time.perf_counter()
        if not warm:
            unlogged_extra.append((t1 - t0) + (t3 - t2))
    logged.close()
    params = sum(p.numel() for p in model.parameters())
    tensors = sum(1 for _ in model.parameters())
    ms = lambda xs: statistics.median(xs) * 1e3  # noqa: E731
    amortized = (ms(logged_extra) + 99 * ms(unlogged_extra)) / (100 * ms(plain_step))
    print("%-8s %-5s %10d params %3d tensors | train step %8.2f ms | optimizer.step %7.2f ms | "
          "snippet on a logged step %7.2f ms (%.0f%% of a train step) | on other steps %.4f ms | "
          "every=100: +%.2f%% training time"
          % (name, type(optimizer).__name__, params, tensors, ms(plain_step), ms(opt_step), ms(logged_extra),
             100 * ms(logged_extra) / ms(plain_step), ms(unlogged_extra), 100 * amortized))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--snippet", default=os.path.join(REPO, "snippets", "optimizer_lens_core.py"),
                    help="the logger to measure: the core (default) or a pasted snippet, e.g. an older one")
    args = ap.parse_args()
    Logger = load_logger(args.snippet)
    torch.manual_seed(0)
    print("torch %s, %d threads" % (torch.__version__, torch.get_num_threads()))
    loss_fn = nn.CrossEntropyLoss()
    measure("tiny", Tiny(), lambda: (torch.randint(0, USED_IDS, (32,)), torch.randint(0, USED_IDS, (32,))),
            lambda m, b: loss_fn(m(b[0]), b[1]), args.repeats, Logger)
    for optimizer_class in (torch.optim.Adam, torch.optim.AdamW):
        measure("mlp-10M", mlp10m(), lambda: (torch.randn(64, 1024), torch.randint(0, 512, (64,))),
                lambda m, b: loss_fn(m(b[0]), b[1]), args.repeats, Logger, optimizer_class)


if __name__ == "__main__":
    main()
