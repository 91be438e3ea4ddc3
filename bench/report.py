#!/usr/bin/env python3
"""Merges Nabla.Bench, torch_bench.py and TorchSharp.Bench JSON files into bench/results.json and docs/benchmarks.md.

    report.py --nabla a.json [b.json ...] --torch c.json [d.json ...] [--torchsharp e.json ...] --machine machine.json
              --command "bench/run.sh --quick" --results bench/results.json --markdown docs/benchmarks.md

The ratio that the targets are about is Nabla's time over the best peer's (the faster of PyTorch and TorchSharp).

Only measured numbers are written: every cell comes from the JSON files; a missing measurement is shown as "—".
"""
import argparse
import datetime
import json
import os


def load(paths):
    """Merges result files; a workload measured in several rounds keeps its fastest round (by median), whose record
    is kept whole, and counts the rounds."""
    doc, results = None, {}
    for p in paths:
        with open(p) as f:
            d = json.load(f)
        for key, r in d["results"].items():
            best = results.get(key)
            rounds = (best or {}).get("rounds", 0) + 1
            if best is None or r["median_s"] < best["median_s"]:
                best = r
            results[key] = dict(best, rounds=rounds)
        if doc is None:
            doc = {k: v for k, v in d.items() if k != "results"}
    doc = doc or {}
    doc["results"] = results
    return doc


GEMM_SHAPES = [
    ("sq256", "NN 256×256×256"),
    ("sq512", "NN 512×512×512"),
    ("sq1024", "NN 1024×1024×1024"),
    ("sq2048", "NN 2048×2048×2048"),
    ("mlp_nn", "MLP NN (m,n,k)=(128,256,784)"),
    ("mlp_nt", "MLP NT (128,784,256), dX = dY·Wᵀ"),
    ("mlp_tn", "MLP TN (784,256,128), dW = Xᵀ·dY"),
]

UNITS = {"s": 1.0, "ms": 1e3, "µs": 1e6, "ns": 1e9}


def rows(nabla, torch):
    """(workload, unit, key in results, field, scale, note function) for each line of the timing table."""
    out = []
    for sid, label in GEMM_SHAPES:
        unit = "ms" if sid in ("sq1024", "sq2048") else "µs"
        out.append((f"SGEMM {label}: Gemm.Multiply vs torch.mm(out=)", unit, f"gemm_{sid}_kernel", "median_s", gemm_note))
        out.append((f"SGEMM {label}: Tensor.MatMul vs torch.mm", unit, f"gemm_{sid}_tensor", "median_s", gemm_note))
    # Epoch 1 is the first of the process (after the warm-up batches: it also pays JIT tier-up and the buffer pool's
    # growth); epoch 2 is the steady state.
    for key, label, what in (("train_mlp", "MLP train, SGD momentum", "whole epoch"), ("train_cnn", "CNN (LeNet) train, Adam", "all timed batches")):
        for suffix, epoch in (("", "epoch 1"), ("_epoch2", "epoch 2")):
            out.append((f"{label}, per batch (median), {epoch}", "ms", key + suffix, "median_s", train_note))
            out.append((f"{label}, {what}, {epoch}", "s", key + suffix, "total_s", train_note))
    out.append(("MLP inference, batch 1 (per image)", "µs", "infer_mlp_b1", "median_s", None))
    out.append(("MLP inference, batch 256 (per batch)", "ms", "infer_mlp_b256", "median_s", None))
    out.append(("CNN inference, batch 1 (per image)", "µs", "infer_cnn_b1", "median_s", None))
    out.append(("CNN inference, batch 256 (per batch)", "ms", "infer_cnn_b256", "median_s", None))
    out.append(("4-element add, recording off", "ns", "tiny_add_nograd", "median_s", None))
    out.append(("4-element add, recording on (inputs require grad)", "ns", "tiny_add_grad", "median_s", None))
    return out


def gemm_note(n, t, s, key):
    parts = []
    if n and "gflops" in n:
        parts.append(f"Nabla {n['gflops']:.0f} GFLOP/s")
    if t and "gflops" in t:
        parts.append(f"torch {t['gflops']:.0f} GFLOP/s ({t['variant']})")
    if s and "gflops" in s:
        parts.append(f"TorchSharp {s['gflops']:.0f} GFLOP/s")
    if key.endswith("_kernel"):
        np_key = key.replace("_kernel", "_numpy")
        npr = TORCH_RESULTS.get(np_key)
        if npr:
            parts.append(f"numpy matmul(out=) {duration(npr['median_s'])} = {npr['gflops']:.0f} GFLOP/s ({npr['variant']})")
    errs = [r["max_rel_err"] for r in (n, t, s) if r and "max_rel_err" in r]
    if errs:
        parts.append(f"max rel. err {max(errs):.1e}")
    return "; ".join(parts)


def train_note(n, t, s, key):
    parts = []
    for name, r in (("Nabla", n), ("torch", t), ("TorchSharp", s)):
        if r:
            parts.append(f"{name} {r['batches']} batches, {r['samples_per_s']:.0f} samples/s, mean loss {r['mean_loss']:.3f}")
    return "; ".join(parts)


def best_peer(values):
    """(name, value) of the smallest of the peers' values that were measured, or (None, None)."""
    measured = [(v, name) for name, v in values if v is not None]
    if not measured:
        return None, None
    v, name = min(measured)
    return name, v


def ratio_str(r):
    return "—" if r is None else f"{r:.2f}"


def duration(seconds):
    return f"{fmt(seconds * 1e3)} ms" if seconds >= 1e-3 else f"{fmt(seconds * 1e6)} µs"


def fmt(x):
    if x is None:
        return "—"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


TORCH_RESULTS = {}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nabla", nargs="+", required=True)
    ap.add_argument("--torch", nargs="+", required=True)
    ap.add_argument("--torchsharp", nargs="*", default=[])
    ap.add_argument("--machine", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--markdown", required=True)
    ap.add_argument("--generated", help="the run's time (ISO 8601), when the report is made again from its raw files later")
    a = ap.parse_args()

    nabla, torch = load(a.nabla), load(a.torch)
    torchsharp = load(a.torchsharp) if a.torchsharp else None
    with open(a.machine) as f:
        machine = json.load(f)
    N, T = nabla["results"], torch["results"]
    S = torchsharp["results"] if torchsharp else {}
    TORCH_RESULTS.update(T)

    table = []
    def value(r, field, unit):
        return r[field] * UNITS[unit] if r and field in r else None

    for label, unit, key, field, note in rows(nabla, torch):
        n, t, s = N.get(key), T.get(key), S.get(key)
        nv, tv, sv = value(n, field, unit), value(t, field, unit), value(s, field, unit)
        peer, pv = best_peer([("PyTorch", tv), ("TorchSharp", sv)])
        # The fastest repetition (fastest batch for training): less sensitive to other load on the machine.
        mins = {k: value(r, "min_s", unit) if field == "median_s" else None for k, r in (("nabla", n), ("pytorch", t), ("torchsharp", s))}
        _, pmin = best_peer([("PyTorch", mins["pytorch"]), ("TorchSharp", mins["torchsharp"])])
        table.append({"workload": label, "unit": unit, "key": key, "field": field, "nabla": nv, "pytorch": tv, "torchsharp": sv,
                      "ratio_nabla_over_pytorch": nv / tv if nv is not None and tv else None,
                      "ratio_nabla_over_torchsharp": nv / sv if nv is not None and sv else None,
                      "best_peer": peer, "ratio_nabla_over_best_peer": nv / pv if nv is not None and pv else None,
                      "nabla_min": mins["nabla"], "pytorch_min": mins["pytorch"], "torchsharp_min": mins["torchsharp"],
                      "min_ratio_nabla_over_best_peer": mins["nabla"] / pmin if mins["nabla"] is not None and pmin else None,
                      "note": note(n, t, s, key) if note else ""})
    memory = []
    for key, label in (("train_mlp", "MLP training run"), ("train_cnn", "CNN training run")):
        # The second epoch's record holds the peak over both epochs; RSS after each epoch shows growth, if any.
        for field, what, k in (("peak_rss_kib", "peak RSS (VmHWM)", key + "_epoch2"),
                               ("rss_after_epoch_kib", "RSS after epoch 1", key),
                               ("rss_after_epoch_kib", "RSS after epoch 2", key + "_epoch2")):
            n, t, s = N.get(k), T.get(k), S.get(k)
            nv = n[field] / 1024 if n and field in n else None
            tv = t[field] / 1024 if t and field in t else None
            sv = s[field] / 1024 if s and field in s else None
            peer, pv = best_peer([("PyTorch", tv), ("TorchSharp", sv)])
            memory.append({"workload": f"{what}, {label}", "unit": "MiB", "key": k, "field": field, "nabla": nv, "pytorch": tv,
                           "torchsharp": sv, "ratio_nabla_over_pytorch": nv / tv if nv and tv else None,
                           "best_peer": peer, "ratio_nabla_over_best_peer": nv / pv if nv and pv else None})

    doc = {"generated": a.generated or datetime.datetime.now().isoformat(timespec="seconds"), "command": a.command, "machine": machine,
           "timings": table, "memory": memory, "nabla": nabla, "pytorch": torch, "torchsharp": torchsharp}
    with open(a.results, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")

    threads = nabla.get("threads", torch.get("threads"))
    quick = nabla.get("quick", False)
    md = []
    md.append(f"# Benchmarks: Nabla vs PyTorch{' and TorchSharp' if torchsharp else ''} (CPU)\n")
    md.append(f"Generated {doc['generated']} by `{a.command}` — {'quick mode' if quick else 'full mode'}, "
              f"{threads} threads on both sides, float32. Raw numbers: `{os.path.relpath(a.results)}`. "
              "Every number below is a measurement from that run; nothing is edited by hand."
              + ("" if torchsharp else " TorchSharp was left out of this run (`--no-torchsharp`).") + "\n")
    md.append("## Machine\n")
    md.append(f"- CPU: {machine.get('cpu', '?')} — `nproc` = {machine.get('nproc', '?')}; {machine.get('flags', '')}")
    md.append(f"- memory: {machine.get('memory', '?')}; kernel {machine.get('kernel', '?')}")
    md.append(f"- Nabla: commit {machine.get('commit', '?')}, {nabla.get('runtime', '?')}, Vector512 accelerated: {nabla.get('vector512', '?')}")
    md.append(f"- PyTorch {torch.get('torch', '?')} (Debian python3-torch), numpy {torch.get('numpy', '?')}, Python {torch.get('python', '?')}, "
              f"OpenBLAS: {machine.get('openblas', '?')}")
    if torchsharp:
        md.append(f"- TorchSharp {torchsharp.get('torchsharp', '?')} with libtorch {torchsharp.get('libtorch', '?')} (MKL, oneDNN), "
                  f"{torchsharp.get('runtime', '?')}; its glue library needs libstdc++ ≥ GCC 13 (GLIBCXX_3.4.32), so on Debian 12 "
                  "bench/TorchSharp.Bench/compat/make_loadable.py marks that one requirement weak and preloads the one missing "
                  "function (stream initialisation); nothing that computes is changed")
    md.append(f"- load average before / after the run: {machine.get('load_before', '?')} / {machine.get('load_after', '?')} "
              "(other processes on the machine disturb the timings, most of all PyTorch's OpenMP threads); "
              f"CPU busy (all CPUs, 2 s sample) just before each section: {machine.get('busy_before_sections', '?')}")
    if machine.get("probes_before_runs"):
        md.append("- the machine's speed just before each side's run (bench/probe.py: GFLOP/s of a 384³ float32 product on two "
                  "OpenBLAS threads / GB/s of a 24 MiB copy; N Nabla, P PyTorch, T TorchSharp, in run order; the host of this "
                  "virtual machine slows it by up to 2× for minutes at a time, and each run waits, within the wait budget, "
                  f"for ≥ 90 % of the fastest compute reading of the run, {machine.get('fastest_probe', '?')} GFLOP/s): "
                  f"{machine['probes_before_runs']}")
    md.append("")
    md.append("## Settings\n")
    md.append("- Timing: warm-up (≥ 60 calls, 0.5 s quick / 2 s full), then 7 (quick) / 21 (full) repetitions of an inner loop "
              "lasting ≥ 10 ms (quick) / 50 ms (full); the median time per call is reported. The same rule on both sides "
              "(`Measure.Run` in C#, `measure` in Python). Training: every batch is timed (batch fetch, forward, loss, "
              "reading the loss, backward, step) after a few warm-up batches (20 MLP, 5 CNN); two epochs are timed in the same process, "
              "the first (which also pays one-time costs: on Nabla's side the JIT's tier-up of the step's code and the growth "
              "of its buffer pool) and the second (the steady state); the median batch and the total of each are reported. "
              "Batches are fetched as each library's users would: PyTorch and TorchSharp by `index_select` on the in-memory "
              "tensors, in line; Nabla through its `DataLoader`, which starts gathering the next batch when it hands one out, "
              "in the time its helper thread would spend idle during the step.")
    rounds = max([r.get("rounds", 1) for r in list(nabla["results"].values()) + list(torch["results"].values()) + list(S.values())] or [1])
    md.append("- Every section runs in a fresh process on each side, Nabla's section first, then PyTorch's"
              + (", then TorchSharp's" if torchsharp else "") + ", section by section, "
              "so that both sides see similar machine load; peak RSS is the VmHWM of that process."
              + (f" Each section ran {rounds} rounds, the sides alternating, and each side's faster round (by median) of each "
                 "workload is the one reported, whole." if rounds > 1 else ""))
    md.append(f"- PyTorch environment: `OPENBLAS_CORETYPE={torch.get('env', {}).get('OPENBLAS_CORETYPE', '?')}`, `GLIBC_TUNABLES={torch.get('env', {}).get('GLIBC_TUNABLES', '?')}`; "
              f"training/inference/tiny op: `OPENBLAS_NUM_THREADS=1`, `torch.set_num_threads({threads})`; SGEMM: both "
              f"`OPENBLAS_NUM_THREADS={threads}` + `torch.set_num_threads(1)` and `OPENBLAS_NUM_THREADS=1` + "
              f"`torch.set_num_threads({threads})` were run, and the faster one per row is the PyTorch number (the note says which).")
    if torchsharp:
        md.append(f"- TorchSharp: `torch.set_num_threads({threads})`, `torch.set_num_interop_threads(1)`; every call or batch in a "
                  "`torch.NewDisposeScope()` (native memory freed at once); SGEMM with `addmm_(a, b, beta: 0)` into an existing "
                  "output and `mm` allocating; the same loops, models, data and timing rule as the other sides.")
    md.append(f"- Nabla: `Device.CpuWithThreads({threads})` for data and operands, `Gemm.Multiply(..., threads: {threads})`; "
              "the same runtime settings as the `nabla` command (build/TrainingRuntime.props: workstation non-concurrent GC, methods compiled optimized at once, no dynamic PGO, retained VM; `DOTNET_GCgen0size=0x1000000` as scripts/nabla sets it).")
    md.append("- Workloads: MLP 784-256-128-10, batch 64, SGD lr 0.05 momentum 0.9, one Fashion-MNIST epoch (60000 images, 938 batches); "
              "LeNet (conv5×5 1→32 pad 2, ReLU, maxpool 2, conv5×5 32→64 pad 2, ReLU, maxpool 2, fc 3136→128, ReLU, fc 128→10), "
              f"batch 64, Adam lr 1e-3, {'the first 200 batches of an epoch (quick mode)' if quick else 'one epoch'}; "
              "inference under `Autograd.NoGrad()` / `torch.no_grad()` on test images with freshly initialized weights (at batch 1 "
              "Nabla's Linear layers read a packed copy of each weight, made on the first call and kept while the weight is "
              "unchanged; the warm-up calls include that first one).")
    md.append("")
    md.append("## Timings\n")
    md.append("Ratios are Nabla's time over a peer's: **time ratios, lower is better** for Nabla (1.0 = parity, 2.0 = Nabla takes "
              "twice as long). The bold one is against the best peer of the row (the faster of PyTorch and TorchSharp), the one the "
              "targets are about.\n")
    md.append("The min columns are the fastest repetition (fastest single batch for training); they are less disturbed by other "
              "load on the machine than the medians, and their ratio (Nabla's min over the best peer's min) is given as a cross-check.\n")
    md.append("| workload | unit | Nabla median | PyTorch median | TorchSharp median | Nabla/PyTorch | Nabla/TorchSharp | "
              "Nabla/best peer (time ratio, lower is better) | Nabla min | best peer min | min ratio | notes |")
    md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in table:
        pmin = r["pytorch_min"] if r["best_peer"] == "PyTorch" else r["torchsharp_min"]
        md.append(f"| {r['workload']} | {r['unit']} | {fmt(r['nabla'])} | {fmt(r['pytorch'])} | {fmt(r['torchsharp'])} | "
                  f"{ratio_str(r['ratio_nabla_over_pytorch'])} | {ratio_str(r['ratio_nabla_over_torchsharp'])} | "
                  f"**{ratio_str(r['ratio_nabla_over_best_peer'])}** ({r['best_peer'] or '—'}) | {fmt(r['nabla_min'])} | {fmt(pmin)} | "
                  f"{ratio_str(r['min_ratio_nabla_over_best_peer'])} | {r['note']} |")
    md.append("")
    md.append("## Memory\n")
    md.append("Ratios are Nabla's over a peer's: **memory ratios, lower is better** for Nabla; the bold one is against the "
              "peer that used less. Every process holds the whole training set as float32 (60000×784×4 B ≈ 180 MiB). "
              "The RSS after an epoch is the resident memory at that moment, which can lie below the peak: on Nabla's side "
              "a full collection (the buffer pool runs one when dead buffers pile up in generation 2) may hand pages back "
              "that the next epoch maps again, up to the same peak.\n")
    md.append("| workload | unit | Nabla | PyTorch | TorchSharp | Nabla/PyTorch | Nabla/best peer (memory ratio, lower is better) |")
    md.append("|---|---|---:|---:|---:|---:|---:|")
    for r in memory:
        md.append(f"| {r['workload']} | {r['unit']} | {fmt(r['nabla'])} | {fmt(r['pytorch'])} | {fmt(r['torchsharp'])} | "
                  f"{ratio_str(r['ratio_nabla_over_pytorch'])} | **{ratio_str(r['ratio_nabla_over_best_peer'])}** ({r['best_peer'] or '—'}) |")
    md.append("")
    md.append("## Reproduce\n")
    md.append("```bash")
    md.append(a.command)
    md.append("```")
    with open(a.markdown, "w") as f:
        f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
