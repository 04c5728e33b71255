#!/usr/bin/env python3
"""Times the same full-batch training step as `cargo bench --bench step` in PyTorch (CPU).

The step: h = W_in[:, x] + W_in[:, y] for all p^2 pairs (one-hot inputs as an index gather),
ReLU, logits = a @ W_out^T, mean cross-entropy, backward, AdamW(betas=(0.9, 0.98), eps=1e-8).
float32, full dataset. This is our own natural PyTorch formulation of the step, not the
reference's code. Threads: --threads (default 1, to match the single-threaded Rust bench).

Usage: python3 benches/pytorch_step.py [--threads N] [--csv out.csv]
"""
import argparse
import time

import torch

SIZES = [(23, 512), (59, 1024), (97, 1024)]


def make_step(p, m):
    g = torch.Generator().manual_seed(42)
    w_in = (0.1 * torch.randn(m, p, generator=g) / p**0.5).requires_grad_()
    w_out = (0.1 * torch.randn(p, m, generator=g) / p**0.5).requires_grad_()
    xs = torch.arange(p).repeat_interleave(p)
    ys = torch.arange(p).repeat(p)
    labels = (xs + ys) % p
    opt = torch.optim.AdamW([w_in, w_out], lr=1e-5, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.0)

    def step():
        opt.zero_grad(set_to_none=True)
        h = (w_in[:, xs] + w_in[:, ys]).T  # (p^2, M)
        logits = torch.relu(h) @ w_out.T  # (p^2, p)
        loss = torch.nn.functional.cross_entropy(logits, labels)
        loss.backward()
        opt.step()
        return loss

    return step


def time_step(step, min_time=2.0):
    for _ in range(20):
        step()
    n, t0 = 0, time.perf_counter()
    while True:
        step()
        n += 1
        el = time.perf_counter() - t0
        if el >= min_time and n >= 20:
            return el / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--csv")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows = []
    for p, m in SIZES:
        t = time_step(make_step(p, m))
        rows.append((p, m, a.threads, t))
        print(f"pytorch step f32 cpu p={p} M={m} threads={a.threads}: {t * 1e6:.1f} us")
    if a.csv:
        with open(a.csv, "w") as f:
            f.write("p,width,threads,seconds_per_step\n")
            for p, m, th, t in rows:
                f.write(f"{p},{m},{th},{t!r}\n")


if __name__ == "__main__":
    main()
