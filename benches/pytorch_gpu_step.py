#!/usr/bin/env python3
"""Times modadd's training step in PyTorch on a GPU, and plain GEMMs of the same shapes.

The step (f32, AdamW with betas (0.9, 0.98), eps 1e-8, full batch of all p^2 pairs, ReLU,
mean cross-entropy, init 0.1 N(0,1)/sqrt(p) for both layers) is the one `benches/cuda_step.rs`
times for modadd's CPU and CUDA backends:
  forward   h = W_in[:, x] + W_in[:, y];  a = relu(h);  z = a W_out^T
  loss      mean cross-entropy, accuracy (argmax == label), both kept on the GPU
  backward  autograd into W_in and W_out
  norms     ||grad|| and ||params|| (kept on the GPU, like modadd's per-step scalars)
  update    torch.optim.AdamW (foreach implementation)
Variants:
  gather    the first layer as an index gather of W_in's columns (PyTorch's natural fast form)
  onehot    the reference's form: (one_hot(x) + one_hot(y)) W_in^T, a dense GEMM
  merged    gather on modadd's merged rows ((x, y) and (y, x) as one row of weight 2, R = p(p+1)/2)
GEMM: the three products of the merged step, (R x M)(M x p), (M x R)(R x p), (R x p)(p x M),
with torch.matmul (cuBLAS) into preallocated outputs; their summed time is the GEMM-bound time
of one step. TF32 is off unless --tf32.

Times are CUDA-event times over --iters steps queued back to back after --warmup steps (no
host synchronisation inside the loop), in microseconds per step. Prints CSV to stdout:
  device,p,m,rows,variant,us_per_step
Without a CUDA device it prints "skipped: no CUDA device" and exits 0 (use --device cpu to
check the script itself on a CPU at small sizes).

With --check DIR (a modadd weight folder: W_in.csv M x p, W_out.csv p x M) it prints the
loss and accuracy of those weights under the gather and merged forms instead, to compare with
`modadd eval --weights DIR --activation relu --precision f32`: the step timed is the same step.

Usage: python3 benches/pytorch_gpu_step.py [--sizes 23:512,97:1024,97:0] [--iters 200]
"""

import argparse
import math
import sys
import time

import torch
import torch.nn.functional as F


def reference_width(p):
    return max(512, math.ceil(512 * p * p / 529))


def all_pairs(p, device):
    x = torch.arange(p, device=device).repeat_interleave(p)
    y = torch.arange(p, device=device).repeat(p)
    return x, y, (x + y) % p


def merged_pairs(p, device):
    """modadd's Batch::new for the tied model on all pairs: a <= b, weight 2 when a != b."""
    a, b = torch.triu_indices(p, p, device=device)
    w = torch.where(a == b, 1.0, 2.0).to(torch.float32)
    return a, b, (a + b) % p, w


def make_step(p, m, variant, device, seed=42, weights=None):
    g = torch.Generator(device="cpu").manual_seed(seed)
    if weights is None:
        weights = (0.1 * torch.randn(m, p, generator=g) / math.sqrt(p), 0.1 * torch.randn(p, m, generator=g) / math.sqrt(p))
    w_in = weights[0].clone().to(device).requires_grad_()
    w_out = weights[1].clone().to(device).requires_grad_()
    params = [w_in, w_out]
    opt = torch.optim.AdamW(params, lr=5e-5, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.0)
    n = p * p
    if variant == "merged":
        x, y, label, wt = merged_pairs(p, device)
    else:
        x, y, label = all_pairs(p, device)
        wt = None
    if variant == "onehot":
        onehot = (F.one_hot(x, p) + F.one_hot(y, p)).to(torch.float32)

    def step():
        opt.zero_grad(set_to_none=True)
        if variant == "onehot":
            h = onehot @ w_in.T
        else:
            wt_in = w_in.T  # p x M: row v = all neurons' weights for input v
            h = wt_in[x] + wt_in[y]
        a = torch.relu(h)
        z = a @ w_out.T
        if wt is None:
            loss = F.cross_entropy(z, label)
            acc = (z.argmax(1) == label).float().mean()
        else:
            loss = (F.cross_entropy(z, label, reduction="none") * wt).sum() / n
            acc = ((z.argmax(1) == label).float() * wt).sum() / n
        loss.backward()
        with torch.no_grad():
            gnorm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(q.grad) for q in params]))
            pnorm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(q) for q in params]))
        opt.step()
        return loss.detach(), acc, gnorm, pnorm

    return step, x.numel()


def make_gemms(p, m, device):
    r = p * (p + 1) // 2
    g = torch.Generator(device="cpu").manual_seed(1)
    mk = lambda a, b: torch.randn(a, b, generator=g).to(device)
    act, w_outt, grad_z = mk(r, m), mk(m, p), mk(r, p)
    w_out = mk(p, m)
    z, dw, da = torch.empty(r, p, device=device), torch.empty(m, p, device=device), torch.empty(r, m, device=device)

    def run():
        torch.matmul(act, w_outt, out=z)  # logits  (R x M)(M x p)
        torch.matmul(act.T, grad_z, out=dw)  # dW_out^T (M x R)(R x p)
        torch.matmul(grad_z, w_out, out=da)  # dL/da (R x p)(p x M)

    return run, r, 3 * 2.0 * r * m * p


def time_it(fn, device, warmup, iters):
    for _ in range(warmup):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            fn()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end) * 1e3 / iters
    t = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - t) * 1e6 / iters


def check(folder):
    load = lambda name: torch.tensor(
        [[float(v) for v in line.split(",")] for line in open(f"{folder}/{name}") if line.strip()],
        dtype=torch.float32,
    )
    w_in, w_out = load("W_in.csv"), load("W_out.csv")
    m, p = w_in.shape
    print("variant,loss,accuracy")
    for variant in ("gather", "merged"):
        step, _ = make_step(p, m, variant, torch.device("cpu"), weights=(w_in, w_out))
        loss, acc, _, _ = step()
        print(f"{variant},{loss.item():.9g},{acc.item():.9g}")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="23:512,97:1024,97:0", help="p:M list; M = 0 means the width formula")
    ap.add_argument("--variants", default="gather,onehot,merged,gemm")
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tf32", action="store_true", help="allow TF32 in matmuls (off: true f32)")
    ap.add_argument("--check", metavar="DIR", help="print loss/accuracy of a modadd weight folder")
    args = ap.parse_args()
    if args.check:
        return check(args.check)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("skipped: no CUDA device")
        return 0
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print("device,p,m,rows,variant,us_per_step")
    for item in args.sizes.split(","):
        p, m = (int(v) for v in item.split(":"))
        m = m or reference_width(p)
        for variant in args.variants.split(","):
            if variant == "gemm":
                fn, rows, flops = make_gemms(p, m, device)
                us = time_it(fn, device, args.warmup, args.iters)
                print(f"{name},{p},{m},{rows},gemm,{us:.3f}")
                print(f"# gemm p={p} M={m}: {flops / us / 1e6:.2f} TFLOP/s", file=sys.stderr)
            else:
                fn, rows = make_step(p, m, variant, device)
                us = time_it(fn, device, args.warmup, args.iters)
                print(f"{name},{p},{m},{rows},{variant},{us:.3f}")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
