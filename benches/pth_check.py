#!/usr/bin/env python3
"""Cross-check of the .pth importer against PyTorch (by hand; not part of the test suite).

    python3 benches/pth_check.py CKPT.pth ACTIVATION [RUST_WEIGHT_FOLDER]

Loads CKPT.pth with torch.load, finds mlp.W_in [M, p] / mlp.W_out [p, M] (top level or under
'model'), prints their Frobenius norms and, over all p^2 pairs (x, y) with label (x + y) mod p,
the mean cross-entropy and accuracy of f(x, y)[j] = sum_m W_out[j, m] act(W_in[m, x] + W_in[m, y])
in float32 and float64 (ACTIVATION: relu or quad). With RUST_WEIGHT_FOLDER (W_in.csv, W_out.csv
written by modadd from the same file), also reports how many entries differ from torch's.
"""
import sys

import numpy as np
import torch


def main():
    path, act = sys.argv[1], sys.argv[2]
    obj = torch.load(path, map_location="cpu", weights_only=False)
    sd = obj["model"] if isinstance(obj, dict) and "model" in obj else obj
    w_in = sd["mlp.W_in"] if "mlp.W_in" in sd else sd["W_in"]
    w_out = sd["mlp.W_out"] if "mlp.W_out" in sd else sd["W_out"]
    m, p = w_in.shape
    print(f"{path}: dtype {w_in.dtype}, p {p}, M {m}, "
          f"|W_in|_F {torch.linalg.norm(w_in.double()).item()!r} "
          f"|W_out|_F {torch.linalg.norm(w_out.double()).item()!r}")
    x = torch.arange(p).repeat_interleave(p)
    y = torch.arange(p).repeat(p)
    label = (x + y) % p
    for dt in (torch.float32, torch.float64):
        a, b = w_in.to(dt), w_out.to(dt)
        pre = a[:, x] + a[:, y]  # M x p^2
        h = torch.relu(pre) if act == "relu" else pre * pre
        logits = (b @ h).t()  # p^2 x p
        loss = torch.nn.functional.cross_entropy(logits, label).item()
        acc = (logits.argmax(dim=1) == label).double().mean().item()
        print(f"  torch {str(dt).split('.')[-1]}: loss {loss!r} accuracy {acc!r}")
    if len(sys.argv) > 3:
        d = sys.argv[3]
        for name, t in (("W_in", w_in), ("W_out", w_out)):
            r = np.loadtxt(f"{d}/{name}.csv", delimiter=",", ndmin=2)
            ref = t.double().numpy()
            print(f"  rust {name}: shape {r.shape}, entries differing from torch: "
                  f"{int((r != ref).sum())}, max |diff| {np.abs(r - ref).max()!r}")


if __name__ == "__main__":
    main()
