#!/usr/bin/env python3
"""Writes the tiny PyTorch checkpoints that tests/pth_import.rs reads (data/pth/).

Run from the repository root:  python3 data/make_pth_fixtures.py
Needs torch and numpy. Sizes: p = 5, M = 3. Every value comes from a seeded generator, so a
re-run writes the same tensors (torch's zip container may differ in its serialization id).

Each fixture mimics a layout the PyTorch reference writes or a user may meet; the expected
values of every weight matrix go to data/pth/expected.csv (tidy: fixture, tensor, row, col,
value), each value written with Python's shortest round-trip repr of the stored float, so the
Rust reader can be checked for exact equality.
"""
import collections
import csv
import os
import sys

import torch

P, M = 5, 3
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "pth")


class Mlp(torch.nn.Module):
    """The reference's layout: parameters W_in [M, p], W_out [p, M], a buffer basis [p, p]."""

    def __init__(self, gen):
        super().__init__()
        self.W_in = torch.nn.Parameter(torch.randn(M, P, generator=gen) / P**0.5)
        self.W_out = torch.nn.Parameter(torch.randn(P, M, generator=gen) / P**0.5)
        self.register_buffer("basis", torch.randn(P, P, generator=gen))


class Net(torch.nn.Module):
    def __init__(self, gen):
        super().__init__()
        self.mlp = Mlp(gen)


expected = []


def record(fixture, name, t):
    a = t.detach().to(torch.float64).numpy()
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            expected.append((fixture, name, i, j, repr(float(a[i, j]))))


def save(obj, fixture, **kw):
    torch.save(obj, os.path.join(OUT, fixture + ".pth"), **kw)


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(20260521)

    # 1. bare: model.state_dict() at top level (OrderedDict with _metadata), float32.
    net = Net(gen)
    sd = net.state_dict()
    save(sd, "bare")
    record("bare", "W_in", sd["mlp.W_in"])
    record("bare", "W_out", sd["mlp.W_out"])

    # 2. nested: like the reference's *_final.pth: the state dict under "model", beside loss
    # lists, an int and an AdamW state dict (tensor moments, step counters, param groups).
    net2 = Net(gen)
    opt = torch.optim.AdamW(net2.parameters(), lr=1e-3, betas=(0.9, 0.98), weight_decay=0.5)
    x = torch.randn(4, P, generator=gen)
    loss = (x @ net2.mlp.W_in.t() @ net2.mlp.W_out.t()).pow(2).mean()
    loss.backward()
    opt.step()
    ckpt = {
        "model": net2.state_dict(),
        "optimizer": opt.state_dict(),
        "train_losses": [0.25, 0.125, float(loss.detach())],
        "test_accs": [0.2, 0.4],
        "epoch": 2,
        "config": {"p": P, "d_mlp": M, "act_type": "ReLU"},
    }
    save(ckpt, "nested")
    record("nested", "W_in", ckpt["model"]["mlp.W_in"])
    record("nested", "W_out", ckpt["model"]["mlp.W_out"])

    # 3. strided: keys without the "mlp." prefix; W_in is a view with a storage offset (rows
    # 1..M of a larger matrix) and W_out a transposed view (strides (1, p)).
    big = torch.randn(M + 1, P, generator=gen)
    w_in = big[1:]
    w_out = torch.randn(M, P, generator=gen).t()
    assert w_in.storage_offset() == P and w_out.stride() == (1, P)
    save({"W_in": w_in, "W_out": w_out}, "strided")
    record("strided", "W_in", w_in)
    record("strided", "W_out", w_out)

    # 4. untied_f64: float64 tensors, with the second input matrix of an untied model.
    sd4 = collections.OrderedDict(
        [
            ("mlp.W_in", torch.randn(M, P, generator=gen, dtype=torch.float64)),
            ("mlp.W_in_y", torch.randn(M, P, generator=gen, dtype=torch.float64)),
            ("mlp.W_out", torch.randn(P, M, generator=gen, dtype=torch.float64)),
        ]
    )
    save(sd4, "untied_f64")
    for k in ("W_in", "W_in_y", "W_out"):
        record("untied_f64", k, sd4["mlp." + k])

    # 5. params: nn.Parameter objects saved directly (not a state dict), which torch pickles
    # through torch._utils._rebuild_parameter; the same values as bare.
    save({"mlp.W_in": net.mlp.W_in, "mlp.W_out": net.mlp.W_out}, "params")
    record("params", "W_in", net.mlp.W_in)
    record("params", "W_out", net.mlp.W_out)

    # Error cases.
    # 6. half: W_in stored as float16 (an unsupported dtype).
    save({"mlp.W_in": torch.randn(M, P, generator=gen).half(),
          "mlp.W_out": torch.randn(P, M, generator=gen)}, "half")
    # 7. missing_key: no W_out.
    save({"mlp.W_in": torch.randn(M, P, generator=gen),
          "mlp.b_out": torch.randn(P, generator=gen)}, "missing_key")
    # 8. bad_shape: W_out [p, M + 1] does not match W_in [M, p].
    save({"mlp.W_in": torch.randn(M, P, generator=gen),
          "mlp.W_out": torch.randn(P, M + 1, generator=gen)}, "bad_shape")
    # 9. legacy: torch.save's pre-1.6 format (a bare pickle stream, not a zip).
    save({"mlp.W_in": torch.zeros(M, P), "mlp.W_out": torch.zeros(P, M)}, "legacy",
         _use_new_zipfile_serialization=False)

    # Plain pickles (no torch) that exercise the pickle reader's opcodes, protocols 2 and 4.
    # tests/pth_import.rs spells out the same object as a Value tree.
    import pickle

    shared = [7]
    plain = {
        "ints": [0, 1, -1, 255, 256, 65535, 65536, -(2**31), 2**31, 2**63 - 1, -(2**63)],
        "floats": [0.1, -2.5e-300, 1e300, -0.0],
        "text": "theta \u03b8, \u00fc",
        "tuples": [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)],
        "consts": [None, True, False],
        "shared": [shared, shared],
        "ordered": collections.OrderedDict([("b", 2), ("a", 1)]),
    }
    for proto in (2, 4):
        with open(os.path.join(OUT, f"plain_p{proto}.pkl"), "wb") as f:
            pickle.dump(plain, f, protocol=proto)

    with open(os.path.join(OUT, "expected.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["fixture", "tensor", "row", "col", "value"])
        w.writerows(expected)
    print(f"wrote {OUT}: {len(expected)} expected values", file=sys.stderr)


if __name__ == "__main__":
    main()
