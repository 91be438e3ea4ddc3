#!/usr/bin/python3
"""PyTorch peer of bench/Nabla.Bench: the same workloads, the same timing rules, JSON out.

Run it with Debian's python3-torch (/usr/bin/python3). The parent process runs every section in a child
process of its own, so that each child gets the OpenBLAS/OpenMP environment of its section (OpenBLAS reads
OPENBLAS_NUM_THREADS once, when it is loaded) and so that each training run's peak RSS is its own.

    /usr/bin/python3 bench/torch_bench.py [--quick] [--threads T] [--json out.json]

Timing rule (the same as Nabla.Bench): warm up for a fixed time, pick an inner loop count so that one
repetition lasts at least a few milliseconds, time R repetitions and report the median time per call.
"""
import argparse
import gzip
import json
import math
import os
import platform
import statistics
import struct
import subprocess
import sys
import time

GLIBC_TUNABLES = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296:glibc.malloc.top_pad=268435456"
DATA_DIR = "/usr/share/datasets/fashion-mnist"

# Workload parameters shared with Program.cs: keep the two in step.
GEMM_SQUARE = [256, 512, 1024, 2048]
# (id, m, n, k, transA, transB): the MLP's first layer at batch 128 and its two backward products.
GEMM_MLP = [
    ("mlp_nn", 128, 256, 784, False, False),
    ("mlp_nt", 128, 784, 256, False, True),
    ("mlp_tn", 784, 256, 128, True, False),
]
BATCH = 64


def proc_status_kib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    return -1


def vm_hwm_kib():
    return proc_status_kib("VmHWM:")


def measure(fn, quick, min_rep_s=None, reps=None, warmup_s=None):
    """Median seconds per call of fn(), by the rule of Nabla.Bench's Measure.Run: warm up for a fixed time
    (at least 60 calls), pick an inner loop count so one repetition lasts at least min_rep_s, time the repetitions."""
    min_rep_s = min_rep_s if min_rep_s is not None else (0.01 if quick else 0.05)
    reps = reps if reps is not None else (7 if quick else 21)
    warmup_s = warmup_s if warmup_s is not None else (0.5 if quick else 2.0)
    calls = 0
    t0 = time.perf_counter()
    while True:
        fn()
        calls += 1
        el = time.perf_counter() - t0
        if el >= warmup_s and calls >= 60:
            break
        if el >= 4 * warmup_s and calls >= 3:
            break
    per_call = el / calls
    inner = max(1, int(math.ceil(min_rep_s / max(per_call, 1e-9))))
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
    return {"median_s": statistics.median(samples), "min_s": min(samples), "reps": reps, "inner": inner}


# ----------------------------------------------------------------------------------------------- sections

def section_gemm(args):
    import numpy as np
    import torch
    torch.set_num_threads(args.torch_threads)
    torch.manual_seed(0)
    variant = f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, torch threads {args.torch_threads}"
    out = []
    shapes = [(f"sq{s}", s, s, s, False, False) for s in GEMM_SQUARE] + GEMM_MLP
    for sid, m, n, k, ta, tb in shapes:
        a_st = torch.randn(k, m) if ta else torch.randn(m, k)   # stored layout of A
        b_st = torch.randn(n, k) if tb else torch.randn(k, n)   # stored layout of B
        a = a_st.t() if ta else a_st                             # views, no copies: BLAS gets the transpose flag
        b = b_st.t() if tb else b_st
        c = torch.empty(m, n)
        flops = 2.0 * m * n * k
        # A sanity check that the product is the product.
        ref = (a.double() @ b.double())
        torch.mm(a, b, out=c)
        err = float((c.double() - ref).abs().max() / ref.abs().max())
        quick = args.quick
        r_out = measure(lambda: torch.mm(a, b, out=c), quick)
        r_alloc = measure(lambda: torch.mm(a, b), quick)
        an, bn, cn = a.numpy(), b.numpy(), c.numpy()
        r_np = measure(lambda: np.matmul(an, bn, out=cn), quick)
        for kind, r in (("kernel", r_out), ("tensor", r_alloc), ("numpy", r_np)):
            out.append({"id": f"gemm_{sid}_{kind}", "median_s": r["median_s"], "min_s": r["min_s"],
                        "reps": r["reps"], "inner": r["inner"], "gflops": flops / r["median_s"] / 1e9,
                        "max_rel_err": err, "variant": variant})
    return out


def load_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    import numpy as np
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(name):
    for ext in ("", ".gz"):
        p = os.path.join(DATA_DIR, name + ext)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{name} not found in {DATA_DIR}: apt-get install dataset-fashion-mnist")


def load_fashion():
    """Float32 [N,1,28,28] images scaled to [0,1] and standardized with the training set's moments, as Nabla's Mnist.Load."""
    import numpy as np
    import torch
    xs = {}
    stats = None
    for split, img, lab in (("train", "train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                            ("test", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")):
        px = load_idx(find(img))
        if stats is None:
            # Moments of pixel/255 over the training set, in double, from the histogram of byte values.
            counts = np.bincount(px.reshape(-1), minlength=256).astype(np.float64)
            v = np.arange(256, dtype=np.float64) / 255.0
            n = counts.sum()
            mean = float((counts * v).sum() / n)
            std = math.sqrt(max(float((counts * v * v).sum() / n) - mean * mean, 1e-12))
            stats = (mean, std)
        # One float32 value per byte value, computed in double and rounded once (as Nabla's Mnist.Read).
        table = ((np.arange(256, dtype=np.float64) / 255.0 - stats[0]) / stats[1]).astype(np.float32)
        x = table[px].reshape(-1, 1, 28, 28)
        y = load_idx(find(lab)).astype(np.int64)
        xs[split] = (torch.from_numpy(x), torch.from_numpy(y))
        del px
    return xs


def make_model(kind):
    import torch.nn as nn
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(7 * 7 * 64, 128), nn.ReLU(), nn.Linear(128, 10))


def train_batches(model, opt, x, y, batches, g):
    """The Trainer.TrainEpoch loop: shuffled disjoint batches, forward, loss, loss.item(), backward, step.
    Returns per-batch seconds and the mean loss."""
    import torch
    import torch.nn.functional as F
    n = x.shape[0]
    perm = torch.randperm(n, generator=g)
    times, total, seen = [], 0.0, 0
    clock = time.perf_counter()
    for b in range(batches):
        idx = perm[b * BATCH:min((b + 1) * BATCH, n)]
        xb = x.index_select(0, idx)
        yb = y.index_select(0, idx)
        loss = F.cross_entropy(model(xb), yb)
        value = loss.item()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += value * xb.shape[0]
        seen += xb.shape[0]
        now = time.perf_counter()
        times.append(now - clock)
        clock = now
    return times, total / max(seen, 1)


def section_train(args, kind):
    import torch
    torch.set_num_threads(args.torch_threads)
    torch.manual_seed(0)
    data = load_fashion()
    x, y = data["train"]
    rss_after_load = proc_status_kib("VmRSS:")
    model = make_model(kind)
    if kind == "mlp":
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    full = (x.shape[0] + BATCH - 1) // BATCH
    warm = 20 if kind == "mlp" else 5
    if kind == "mlp" or not args.quick:
        timed = full
    else:
        timed = 200
    train_batches(model, opt, x[:warm * BATCH], y[:warm * BATCH], warm, g)
    xs, ys = (x, y) if timed == full else (x[:timed * BATCH], y[:timed * BATCH])
    out = []
    # Two epochs timed, as on Nabla's side: the first of the process (after the warm-up batches) and the second.
    for epoch in (1, 2):
        times, mean_loss = train_batches(model, opt, xs, ys, timed, g)
        total = sum(times)
        samples = min(timed * BATCH, xs.shape[0])
        out.append({"id": f"train_{kind}" if epoch == 1 else f"train_{kind}_epoch2", "epoch": epoch,
                    "median_s": statistics.median(times), "min_s": min(times),
                    "total_s": total, "batches": timed, "samples": samples, "samples_per_s": samples / total,
                    "mean_loss": mean_loss, "peak_rss_kib": vm_hwm_kib(), "rss_after_load_kib": rss_after_load,
                    "rss_after_epoch_kib": proc_status_kib("VmRSS:"),
                    "variant": f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, torch threads {args.torch_threads}"})
    return out


def section_infer(args):
    import torch
    torch.set_num_threads(args.torch_threads)
    torch.manual_seed(0)
    data = load_fashion()
    x, _ = data["test"]
    out = []
    for kind in ("mlp", "cnn"):
        model = make_model(kind).eval()
        for b in (1, 256):
            xb = x[:b].contiguous()
            with torch.no_grad():
                r = measure(lambda: model(xb), args.quick)
            out.append({"id": f"infer_{kind}_b{b}", "median_s": r["median_s"], "min_s": r["min_s"],
                        "reps": r["reps"], "inner": r["inner"], "per_image_s": r["median_s"] / b,
                        "variant": f"torch.no_grad(), torch threads {args.torch_threads}"})
    return out


def section_tiny(args):
    import torch
    torch.set_num_threads(args.torch_threads)
    out = []
    for grad in (False, True):
        a = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=grad)
        b = torch.tensor([0.5, 0.25, 0.125, 0.0625], requires_grad=grad)
        r = measure(lambda: a + b, args.quick, min_rep_s=0.02 if args.quick else 0.1)
        out.append({"id": f"tiny_add_{'grad' if grad else 'nograd'}", "median_s": r["median_s"], "min_s": r["min_s"],
                    "reps": r["reps"], "inner": r["inner"], "variant": f"requires_grad={grad}"})
    return out


SECTIONS = {
    "gemm": section_gemm,
    "train_mlp": lambda a: section_train(a, "mlp"),
    "train_cnn": lambda a: section_train(a, "cnn"),
    "infer": section_infer,
    "tiny": section_tiny,
}


# ------------------------------------------------------------------------------------------------ parent

def blas_coretype():
    """OpenBLAS 0.3.21 takes AVX-512 CPUs it does not know (Zen 4/5) for Haswell and runs its AVX2 kernels: on a CPU
    with AVX-512 the SkylakeX kernels are forced (the peer's best setting). Without AVX-512 they would die of SIGILL,
    so OpenBLAS's own detection stands (None: the variable is left unset)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        flags = []
    return "SkylakeX" if "avx512f" in flags else None


def child_env(blas_threads):
    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = str(blas_threads)
    coretype = blas_coretype()
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    else:
        env.pop("OPENBLAS_CORETYPE", None)
    env["GLIBC_TUNABLES"] = GLIBC_TUNABLES
    env.pop("OMP_NUM_THREADS", None)
    env.pop("MKL_NUM_THREADS", None)
    return env


def run_child(section, blas_threads, torch_threads, quick):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", section, "--torch-threads", str(torch_threads)]
    if quick:
        cmd.append("--quick")
    print(f"[torch] {section}: OPENBLAS_NUM_THREADS={blas_threads} torch threads {torch_threads}", file=sys.stderr, flush=True)
    p = subprocess.run(cmd, env=child_env(blas_threads), stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(p.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=None)
    ap.add_argument("--only", default=None, help="comma-separated sections: " + ",".join(SECTIONS))
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--torch-threads", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        json.dump(SECTIONS[args.child](args), sys.stdout)
        return

    import torch
    import numpy
    t = args.threads
    sections = args.only.split(",") if args.only else list(SECTIONS)
    results = {}
    for s in sections:
        if s == "gemm":
            # Both threading schemes; per workload the faster one is the peer, the other is kept for the record.
            runs = run_child("gemm", t, 1, args.quick) + (run_child("gemm", 1, t, args.quick) if t > 1 else [])
            for r in runs:
                best = results.get(r["id"])
                if best is None:
                    results[r["id"]] = dict(r, alternatives=[])
                elif r["median_s"] < best["median_s"]:
                    alts = best.pop("alternatives") + [{"variant": best["variant"], "median_s": best["median_s"]}]
                    results[r["id"]] = dict(r, alternatives=alts)
                else:
                    best["alternatives"].append({"variant": r["variant"], "median_s": r["median_s"]})
        else:
            for r in run_child(s, 1, t, args.quick):
                results[r["id"]] = r
    doc = {
        "side": "pytorch",
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "threads": t,
        "quick": args.quick,
        "env": {"OPENBLAS_CORETYPE": blas_coretype() or "(unset: OpenBLAS detects the CPU)", "GLIBC_TUNABLES": GLIBC_TUNABLES},
        "results": results,
    }
    text = json.dumps(doc, indent=1)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
