#!/usr/bin/env python3
"""Replays a modadd run in PyTorch from the same initial weights and split, and compares the
per-epoch training log (train/test loss and accuracy) epoch by epoch.

Usage: python3 benches/torch_parity.py RUN_DIR [--epochs N] [--threads T]
Also prints PyTorch's wall time for the replay (the same epochs: test evaluation, training
step, AdamW), to set beside `modadd train`'s time for the run.
RUN_DIR is a `modadd train` folder whose checkpoint `checkpoints/epoch_000000` holds the
weights after the first update, which the reference warm-up makes an lr-0 update (weights
unchanged). Supports AdamW/SGD, relu/quad, ce-mean, tied models, f32.
"""
import argparse
import csv
import time
import json
import os

import numpy as np
import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = json.load(open(os.path.join(a.run, "config.json")))
    p = cfg["p"]
    ck = os.path.join(a.run, "checkpoints", "epoch_000000")
    w_in = torch.tensor(np.load(os.path.join(ck, "W_in.npy")), requires_grad=True)
    w_out = torch.tensor(np.load(os.path.join(ck, "W_out.npy")), requires_grad=True)
    train = [(int(r["x"]), int(r["y"])) for r in csv.DictReader(open(os.path.join(a.run, "train_pairs.csv")))]
    tset = set(train)
    test = [(x, y) for x in range(p) for y in range(p) if (x, y) not in tset] or train
    def tensors(pairs):
        xs = torch.tensor([q[0] for q in pairs])
        ys = torch.tensor([q[1] for q in pairs])
        return xs, ys, (xs + ys) % p
    tr, te = tensors(train), tensors(test)
    act = torch.relu if cfg["activation"] == "relu" else (lambda u: u * u)
    def logits(t):
        return act(w_in[:, t[0]] + w_in[:, t[1]]).T @ w_out.T
    o = cfg["optimizer"]
    if o["kind"] == "adamw":
        opt = torch.optim.AdamW([w_in, w_out], lr=cfg["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"], weight_decay=o["weight_decay"])
    else:
        opt = torch.optim.SGD([w_in, w_out], lr=cfg["lr"], weight_decay=o["weight_decay"])
    steps = cfg["schedule"].get("steps", 0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(s / steps, 1.0) if steps else 1.0)
    log = list(csv.DictReader(open(os.path.join(a.run, "training_log.csv"))))
    n = min(len(log), a.epochs or len(log))
    worst = {"train_loss": 0.0, "test_loss": 0.0}
    acc_diff = 0
    t0 = time.perf_counter()
    for e in range(n):
        with torch.no_grad():
            zt = logits(te)
            test_loss = torch.nn.functional.cross_entropy(zt, te[2]).item()
            test_acc = (zt.argmax(1) == te[2]).float().mean().item()
        opt.zero_grad()
        z = logits(tr)
        loss = torch.nn.functional.cross_entropy(z, tr[2])
        train_acc = (z.argmax(1) == tr[2]).float().mean().item()
        loss.backward()
        opt.step()
        sched.step()
        r = log[e]
        for k, v in (("train_loss", loss.item()), ("test_loss", test_loss)):
            worst[k] = max(worst[k], abs(v - float(r[k])) / max(abs(float(r[k])), 1e-30))
        acc_diff = max(acc_diff, abs(train_acc - float(r["train_acc"])), abs(test_acc - float(r["test_acc"])))
        if e % max(n // 10, 1) == 0 or e == n - 1:
            print(f"epoch {e}: torch train {loss.item():.6g} acc {train_acc:.4f} test {test_loss:.6g} acc {test_acc:.4f} | modadd train {float(r['train_loss']):.6g} acc {float(r['train_acc']):.4f} test {float(r['test_loss']):.6g} acc {float(r['test_acc']):.4f}")
    wall = time.perf_counter() - t0
    print(f"pytorch wall time for {n} epochs ({a.threads} thread(s)), comparisons included: {wall:.1f} s ({wall / n * 1e3:.3f} ms per epoch)")
    print(f"max relative loss difference over {n} epochs: train {worst['train_loss']:.3g}, test {worst['test_loss']:.3g}; max accuracy difference {acc_diff:.4g}")


if __name__ == "__main__":
    main()
