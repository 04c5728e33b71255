#!/usr/bin/env python3
"""modadd against PyTorch on the CPU, side by side in one run: the README's speed table.

For each shape (p, M) it times, in this one process and at the same thread count:
  * PyTorch's full-batch step (all p^2 pairs, Quad, mean cross-entropy, backward, AdamW with
    betas (0.9, 0.98), eps 1e-8, loss and accuracy read back), in every CPU formulation below;
    the fastest one is the baseline:
      onehot_einsum  the reference's form: h = einsum(one_hot(x) + one_hot(y), W_in)
      onehot_mm      the same as one matrix product, (one_hot(x) + one_hot(y)) @ W_in^T
      gather         h = W_in[:, x] + W_in[:, y] (index gather of columns; slow backward)
      embedding      h = embedding(x, W_in^T) + embedding(y, W_in^T) (row gather, index_add back)
    each with AdamW's foreach and fused implementations (with --compile also torch.compile'd
    forward passes; on this CPU they were slower, and compile time is not timed);
  * modadd's whole `train` epochs as users run them (preset quad_random at that width, f32,
    default recording: IPR, |sin D|, pair-class accuracies, the log, checkpoints every 200):
    (T(E2) - T(E1)) / (E2 - E1) over whole processes, which removes start-up and the final
    files; again with --record-every 0, for the recording's share; its system time and minor
    page faults per epoch;
  * with --bench, modadd's bare step, its three products by matrixmultiply and by faer, and the
    recording, from `cargo bench --bench step` (criterion's medians).
It then runs the p = 23 quad_random preset for --long-epochs (2000) epochs as one whole process
against PyTorch's loop of the same epochs (fastest form, warm-up schedule, loss and accuracy
read every epoch), timed inside Python and as a whole process (Python start-up and `import
torch` included).

The machine is shared: before each measurement the script waits until the CPUs are idle
(--min-idle, from /proc/stat), and a measurement whose process did not get the cores it asked
for (CPU time / wall time) is taken again. Every figure is a median of --repeat runs; the load
average is printed beside each.

Usage:
  python3 benches/compare.py [--threads 2] [--shapes 23:512,97:1024,97:9107] [--bin PATH]
                             [--bench] [--compile] [--repeat 3] [--long-epochs 2000] [--csv OUT]
--bin defaults to target/release/modadd, built first with `cargo build --release`; give an
older build's binary to time it with the same script (without --threads it runs on one thread).
"""
import argparse
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LR, BETAS, EPS = 5e-5, (0.9, 0.98), 1e-8


def load():
    return os.getloadavg()[0]


def idle_percent(span=1.0):
    """Share of CPU time idle over `span` seconds (from /proc/stat; niced work counts as busy)."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return sum(v), v[3] + v[4]
    t1, i1 = snap()
    time.sleep(span)
    t2, i2 = snap()
    return 100.0 * (i2 - i1) / max(t2 - t1, 1)


WAIT = {"min_idle": 90.0, "max_wait": 900.0}


def wait_idle():
    """Waits (up to WAIT["max_wait"] s) until other processes leave the CPUs idle: on this shared
    machine a second thread shares a core with anyone else's work, so a 2-thread time is only
    meaningful on idle CPUs. Returns the idle share seen."""
    t0 = time.time()
    while True:
        idle = idle_percent()
        if idle >= WAIT["min_idle"] or time.time() - t0 > WAIT["max_wait"]:
            return idle
        time.sleep(2.0)


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# ---------------------------------------------------------------- PyTorch


def make_step(p, m, variant, fused, compiled=False, seed=42):
    """One PyTorch training step of the given formulation; returns step() -> (loss, acc)."""
    g = torch.Generator().manual_seed(seed)
    w_in = (0.1 * torch.randn(m, p, generator=g) / math.sqrt(p)).requires_grad_()
    w_out = (0.1 * torch.randn(p, m, generator=g) / math.sqrt(p)).requires_grad_()
    x = torch.arange(p).repeat_interleave(p)
    y = torch.arange(p).repeat(p)
    label = (x + y) % p
    onehot = (F.one_hot(x, p) + F.one_hot(y, p)).to(torch.float32)
    opt = torch.optim.AdamW(
        [w_in, w_out], lr=LR, betas=BETAS, eps=EPS, weight_decay=0.0, fused=fused, foreach=not fused
    )

    def forward(w_in, w_out):
        if variant == "onehot_einsum":
            h = torch.einsum("np,mp->nm", onehot, w_in)
        elif variant == "onehot_mm":
            h = onehot @ w_in.T
        elif variant == "gather":
            h = (w_in[:, x] + w_in[:, y]).T
        elif variant == "embedding":
            wt = w_in.T
            h = F.embedding(x, wt) + F.embedding(y, wt)
        else:
            raise ValueError(variant)
        z = (h * h) @ w_out.T
        return F.cross_entropy(z, label), z

    fwd = torch.compile(forward) if compiled else forward

    def step():
        opt.zero_grad(set_to_none=True)
        loss, z = fwd(w_in, w_out)
        loss.backward()
        opt.step()
        with torch.no_grad():
            acc = (z.argmax(1) == label).float().mean()
        return loss.item(), acc.item()

    return step, opt


def time_step(step, min_time, min_iters, warmup, threads):
    """Median seconds per step; retried (up to 3 times) when the process did not get `threads`
    cores' worth of CPU time (someone else's work on the machine)."""
    for attempt in range(3):
        wait_idle()
        for _ in range(warmup):
            step()
        times = []
        c0, t_all = time.process_time(), time.perf_counter()
        while len(times) < min_iters or time.perf_counter() - t_all < min_time:
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        use = (time.process_time() - c0) / (time.perf_counter() - t_all)
        if use >= 0.8 * threads or attempt == 2:
            return statistics.median(times)


def torch_variants(compile_too):
    vs = []
    for v in ["onehot_einsum", "onehot_mm", "gather", "embedding"]:
        for fused in (False, True):
            vs.append((v, fused, False))
    if compile_too:
        for v in ["onehot_mm", "embedding"]:
            vs.append((v, True, True))
    return vs


def name_of(v):
    variant, fused, compiled = v
    return variant + ("+fused" if fused else "+foreach") + ("+compile" if compiled else "")


def torch_best(p, m, compile_too, quick, threads):
    """Times every formulation at (p, m); returns (best seconds, best name, {name: seconds})."""
    big = p * p * m > 2e7
    res = {}
    for v in torch_variants(compile_too):
        try:
            step, _ = make_step(p, m, *v)
            t = time_step(step, min_time=0.5 if quick else (3.0 if big else 1.5),
                          min_iters=3 if big else 20, warmup=2 if big else 10, threads=threads)
        except Exception as e:  # a formulation that does not run here is reported, not fatal
            print(f"  pytorch {name_of(v)}: failed ({type(e).__name__}: {e})", file=sys.stderr)
            continue
        res[name_of(v)] = t
        print(f"  pytorch {name_of(v):28s} p={p} M={m}: {t * 1e3:9.2f} ms/step  (load {load():.2f})",
              flush=True)
    best = min(res, key=res.get)
    return res[best], best, res


def torch_loop(p, m, epochs, v):
    """PyTorch's loop of `epochs` epochs in the fastest formulation, with the reference warm-up."""
    step, opt = make_step(p, m, *v)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(s / 10, 1.0))
    wait_idle()
    t0 = time.perf_counter()
    for _ in range(epochs):
        step()
        sched.step()
    return time.perf_counter() - t0


# ---------------------------------------------------------------- modadd


def has_threads_flag(bin_path):
    out = subprocess.run([bin_path, "train", "--help"], capture_output=True, text=True).stdout
    return "--threads" in out


def run_train(bin_path, p, m, epochs, threads, tflag, out, record=True, preset="quad_random"):
    """One whole `modadd train` process: (wall s, user s, sys s, minor faults, major faults)."""
    cmd = [bin_path, "train", "--preset", preset, "--p", str(p), "--width", str(m),
           "--epochs", str(epochs), "--out", out, "--force", "-q"]
    if tflag:
        cmd += ["--threads", str(threads)]
    if not record:
        cmd += ["--record-every", "0"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime,
            after.ru_minflt - before.ru_minflt, after.ru_majflt - before.ru_majflt)


def epoch_counts(p, m):
    work = p * p * m
    if work < 1e6:
        return 10, 2000
    if work < 2e7:
        return 5, 105
    return 2, 7


def ours_epoch(bin_path, p, m, threads, tflag, repeat, tmp, record=True, preset="quad_random"):
    """Median per-epoch wall time of whole `train` processes (difference of two epoch counts)."""
    e1, e2 = epoch_counts(p, m)
    out = os.path.join(tmp, f"run_{p}_{m}")
    per, sys_per, flt_per = [], [], []
    cores = threads if tflag else 1
    for _ in range(repeat):
        for attempt in range(3):
            wait_idle()
            a = run_train(bin_path, p, m, e1, threads, tflag, out, record, preset)
            b = run_train(bin_path, p, m, e2, threads, tflag, out, record, preset)
            use = (b[1] + b[2] - a[1] - a[2]) / max(b[0] - a[0], 1e-9)
            if use >= 0.75 * cores or attempt == 2:
                break
        per.append((b[0] - a[0]) / (e2 - e1))
        sys_per.append((b[2] - a[2]) / (e2 - e1))
        flt_per.append((b[3] - a[3]) / (e2 - e1))
    shutil.rmtree(out, ignore_errors=True)
    return statistics.median(per), statistics.median(sys_per), statistics.median(flt_per), (e1, e2)


def ours_bench(threads, shapes):
    """Criterion medians (seconds) of the bare step, its three products by matrixmultiply and by
    faer, and the recording, by shape, at `threads` threads. Each shape is benched on idle CPUs
    and again (up to 3 times) when the bench process did not get `threads` cores' worth."""
    subprocess.run(["cargo", "bench", "--bench", "step", "--no-run"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = dict(os.environ, MODADD_BENCH_THREADS=str(threads))
    res = {}
    for p, m in shapes:
        for attempt in range(3):
            wait_idle()
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(["cargo", "bench", "--bench", "step", "--", f"/p{p}_m{m}_t{threads}$"],
                           cwd=ROOT, check=True, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            wall = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            use = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / wall
            if use >= 0.7 * threads or attempt == 2:
                break
        for group, fn in [("step_quad_f32_cpu", "step"), ("products_f32_cpu", "matrixmultiply"),
                          ("products_f32_cpu", "faer"), ("record_f32_cpu", "record")]:
            path = os.path.join(ROOT, "target", "criterion", group, fn, f"p{p}_m{m}_t{threads}",
                                "new", "estimates.json")
            try:
                est = json.load(open(path))
                res[(p, m, fn)] = est["median"]["point_estimate"] * 1e-9
            except OSError:
                pass
    return res


# ---------------------------------------------------------------- the sweep

PRESET_EPOCHS = {"standard": 5000, "grokking": 50000, "quad_random": 5000,
                 "quad_single_freq": 10000, "relu_single_freq": 10000}


def reference_width(p):
    return max(512, -(-512 * p * p // 529))


def sweep(bin_path, threads, tflag, repeat):
    """Per-epoch time of every preset at p = 23, 47, 97 (preset widths), and an estimate of
    `modadd reproduce --p 97`: the measured time of the reproduce with 2 epochs per preset
    (every analysis, ODE, lottery and single-frequency unit) plus each preset's remaining epochs
    at its measured per-epoch time."""
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for p in (23, 47, 97):
            m = reference_width(p)
            for preset in PRESET_EPOCHS:
                t, _, _, _ = ours_epoch(bin_path, p, m, threads, tflag, repeat, tmp, preset=preset)
                rows[(p, preset)] = t
                print(f"  {preset:17s} p={p} M={m}: {t * 1e3:.3f} ms/epoch (load {load():.2f})", flush=True)
        wait_idle()
        cmd = [bin_path, "reproduce", "--p", "97", "--epochs", "2", "--out", os.path.join(tmp, "rep"), "-q"]
        if tflag:
            cmd += ["--threads", str(threads)]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        t_rest = time.perf_counter() - t0
    print()
    print(f"| preset | epochs | p = 23 (M = 512) | p = 47 (M = {reference_width(47)}) | p = 97 (M = 9107) |")
    print("|---|---|---|---|---|")
    for preset, e in PRESET_EPOCHS.items():
        print(f"| {preset} | {e if preset != 'grokking' else '<= 50000 (plateau stop)'} | "
              + " | ".join(f"{rows[(p, preset)] * 1e3:.3g} ms" for p in (23, 47, 97)) + " |")
    fixed = sum(rows[(97, pr)] * e for pr, e in PRESET_EPOCHS.items() if pr != "grokking")
    g = rows[(97, "grokking")]
    lo, hi = t_rest + fixed + g * 10001, t_rest + fixed + g * 50000
    print(f"\n`modadd reproduce --p 97 --epochs 2` (every unit, 2 epochs per preset): {t_rest:.1f} s; "
          f"estimate of `modadd reproduce --p 97` on {threads} threads: {lo / 3600:.2f} h (grokking "
          f"stopped at its first plateau check, epoch 10000) to {hi / 3600:.2f} h (all 50000 epochs)")


# ---------------------------------------------------------------- main


def fmt_t(sec):
    return f"{sec * 1e3:.3g} ms" if sec < 1 else f"{sec:.3g} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shapes", default="23:512,97:1024,97:9107")
    ap.add_argument("--bin", default=None)
    ap.add_argument("--bench", action="store_true", help="also run `cargo bench --bench step`")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile'd forwards")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--long-epochs", type=int, default=2000)
    ap.add_argument("--min-idle", type=float, default=90.0,
                    help="wait before each measurement until the CPUs are this idle (percent)")
    ap.add_argument("--max-wait", type=float, default=900.0, help="longest such wait (seconds)")
    ap.add_argument("--quick", action="store_true", help="short PyTorch timings (script check)")
    ap.add_argument("--csv")
    ap.add_argument("--sweep", action="store_true",
                    help="instead: per-epoch time of every preset at p = 23, 47, 97 and the "
                         "estimated time of `modadd reproduce --p 97`")
    ap.add_argument("--torch-loop", help=argparse.SUPPRESS)  # P:M:EPOCHS:FORM, for the whole-process time
    a = ap.parse_args()
    WAIT.update(min_idle=a.min_idle, max_wait=a.max_wait)
    if a.torch_loop:
        torch.set_num_threads(a.threads)
        p, m, epochs, form = a.torch_loop.split(":")
        v = next(v for v in torch_variants(True) if name_of(v) == form)
        step, opt = make_step(int(p), int(m), *v)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(s / 10, 1.0))
        for _ in range(int(epochs)):
            step()
            sched.step()
        return
    shapes = [tuple(int(v) for v in s.split(":")) for s in a.shapes.split(",") if s]
    torch.set_num_threads(a.threads)
    bin_path = a.bin
    if bin_path is None:
        subprocess.run(["cargo", "build", "--release"], cwd=ROOT, check=True)
        bin_path = os.path.join(ROOT, "target", "release", "modadd")
    tflag = has_threads_flag(bin_path)
    if a.sweep:
        print(f"machine: {cpu_model()}, {os.cpu_count()} cores; modadd on "
              f"{a.threads if tflag else 1} thread(s); load at start {load():.2f}", flush=True)
        sweep(bin_path, a.threads if tflag else 1, tflag, a.repeat)
        return
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; threads: {a.threads} "
          f"(PyTorch {torch.__version__}, torch.set_num_threads({a.threads}); modadd "
          f"{'--threads ' + str(a.threads) if tflag else 'single-threaded (no --threads flag)'}); "
          f"load at start {load():.2f}", flush=True)
    bench = ours_bench(a.threads, shapes) if a.bench else {}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for p, m in shapes:
            l0 = load()
            t_torch, best, _ = torch_best(p, m, a.compile, a.quick, a.threads)
            t_ours, sys_ep, flt_ep, (e1, e2) = ours_epoch(bin_path, p, m, a.threads, tflag, a.repeat, tmp)
            t_bare, _, _, _ = ours_epoch(bin_path, p, m, a.threads, tflag, a.repeat, tmp, record=False)
            l1 = load()
            print(f"  modadd train epoch p={p} M={m}: {t_ours * 1e3:.3f} ms/epoch (epochs {e1} vs {e2}; "
                  f"{sys_ep * 1e3:.3f} ms system time, {flt_ep:.0f} minor faults per epoch); "
                  f"{t_bare * 1e3:.3f} ms with --record-every 0", flush=True)
            rows.append(dict(p=p, m=m, torch_s=t_torch, torch_form=best, ours_s=t_ours,
                             ours_norecord_s=t_bare, ours_sys_s=sys_ep, ours_faults=flt_ep,
                             step_s=bench.get((p, m, "step")),
                             mm_s=bench.get((p, m, "matrixmultiply")),
                             faer_s=bench.get((p, m, "faer")),
                             record_s=bench.get((p, m, "record")),
                             load=f"{l0:.2f}-{l1:.2f}"))
        long_row = None
        if a.long_epochs > 0:
            p, m = 23, 512
            l0 = load()
            _, best, _ = torch_best(p, m, a.compile, a.quick, a.threads)
            v = next(v for v in torch_variants(a.compile) if name_of(v) == best)
            t_loop = statistics.median(torch_loop(p, m, a.long_epochs, v) for _ in range(a.repeat))
            whole = []
            for _ in range(a.repeat):
                wait_idle()
                t0 = time.perf_counter()
                subprocess.run([sys.executable, os.path.abspath(__file__), "--threads", str(a.threads),
                                "--torch-loop", f"{p}:{m}:{a.long_epochs}:{best}"], check=True)
                whole.append(time.perf_counter() - t0)
            t_whole = statistics.median(whole)
            out = os.path.join(tmp, "long")
            walls = []
            for _ in range(a.repeat):
                wait_idle()
                walls.append(run_train(bin_path, p, m, a.long_epochs, a.threads, tflag, out)[0])
            long_row = dict(torch_s=t_loop, torch_whole_s=t_whole, torch_form=best,
                            ours_s=statistics.median(walls), load=f"{l0:.2f}-{load():.2f}")
            print(f"  p=23 M=512 {a.long_epochs} epochs: PyTorch loop {t_loop:.3f} s, whole process "
                  f"{t_whole:.3f} s ({best}); modadd whole process {long_row['ours_s']:.3f} s", flush=True)
    print()
    ours_t = a.threads if tflag else 1
    print(f"| (p, M) | PyTorch step, {a.threads} threads (fastest form) | modadd `train` epoch, {ours_t} thread(s) "
          f"| PyTorch / modadd | recording share | load |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        rec = (r["ours_s"] - r["ours_norecord_s"]) / r["ours_norecord_s"]
        print(f"| ({r['p']}, {r['m']}) | {fmt_t(r['torch_s'])} ({r['torch_form']}) | {fmt_t(r['ours_s'])} | "
              f"{r['torch_s'] / r['ours_s']:.1f}x | {100 * rec:+.0f} % | {r['load']} |")
    if long_row:
        print(f"| (23, 512), {a.long_epochs} epochs: PyTorch's loop vs modadd's whole process | "
              f"{fmt_t(long_row['torch_s'])} ({long_row['torch_form']}) | {fmt_t(long_row['ours_s'])} | "
              f"{long_row['torch_s'] / long_row['ours_s']:.1f}x | | {long_row['load']} |")
        print(f"| (23, 512), {a.long_epochs} epochs: whole processes (PyTorch's with `import torch`) | "
              f"{fmt_t(long_row['torch_whole_s'])} | {fmt_t(long_row['ours_s'])} | "
              f"{long_row['torch_whole_s'] / long_row['ours_s']:.1f}x | | {long_row['load']} |")
    if any(r["step_s"] for r in rows):
        print()
        print(f"| (p, M) | bare step | products: matrixmultiply | products: faer | step / fastest products "
              f"| GFLOP/s step | GFLOP/s fastest products | recording / step | PyTorch / bare step |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            if not r["step_s"]:
                continue
            n = r["p"] * (r["p"] + 1) // 2
            flop = 3 * 2.0 * r["p"] * r["m"] * n
            fast = min(x for x in (r["mm_s"], r["faer_s"]) if x)
            rec = f"{100 * r['record_s'] / r['step_s']:.1f} %" if r["record_s"] else "-"
            print(f"| ({r['p']}, {r['m']}) | {fmt_t(r['step_s'])} | {fmt_t(r['mm_s'])} | {fmt_t(r['faer_s'])} | "
                  f"{r['step_s'] / fast:.2f} | {flop / r['step_s'] / 1e9:.0f} | {flop / fast / 1e9:.0f} | {rec} | "
                  f"{r['torch_s'] / r['step_s']:.1f}x |")
    if a.csv:
        with open(a.csv, "w") as f:
            keys = list(rows[0].keys())
            f.write(",".join(keys) + "\n")
            for r in rows:
                f.write(",".join(repr(r[k]) if isinstance(r[k], float) else str(r[k]) for k in keys) + "\n")


if __name__ == "__main__":
    main()
