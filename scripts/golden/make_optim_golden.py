#!/usr/bin/python3
"""Writes the PyTorch golden values that tests/Nabla.Tests/Optim/OptimizerGoldenTests.cs and
SchedulerGoldenTests.cs check Nabla's optimizers and learning-rate schedulers against.

Run with Debian's PyTorch (python3-torch 1.13):

    /usr/bin/python3 scripts/golden/make_optim_golden.py

Deterministic: the problem is drawn from a fixed torch.Generator seed and rounded to float32, so Nabla sees exactly
the same values. The problem is least squares on a linear layer,

    loss(W, b) = mean((X Wᵀ + b − Y)²),   X [6, 4], Y [6, 3], W [3, 4], b [3],

with gradients computed by torch. Each optimizer configuration runs 5 steps, once with float32 parameters and once
with float64 parameters (same starting values), with the single-tensor (foreach=False) implementation. After each
step the parameters are recorded.

Output: tests/Nabla.Tests/Golden/optim.json
    {"problem": {"x", "y", "weight", "bias": {"shape", "data"}},
     "optimizers": [{"name", "optimizer": "sgd"|"adam"|"adamw"|"rmsprop", "options": {...}, "dtype",
                     "steps": [{"weight": [...], "bias": [...]}, ...]}],
     "schedulers": [{"name", "scheduler", "base_lr", "options": {...}, "lrs": [lr at epoch 0, 1, ...]}]}
Option keys are the names of Nabla's options records (LearningRate, Momentum, ...).
"""

import json
import math
import os

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "Nabla.Tests", "Golden", "optim.json")
STEPS = 5


def f32_number(v):
    """The shortest decimal that reads back to exactly this float32 value."""
    f = np.float32(v)
    short = float(str(f))
    return short if np.float32(short) == f else float(f)


def f64_number(v):
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"non-finite value {v}")
    return v


def enc(t, number):
    return {"shape": list(t.shape), "data": [number(v) for v in t.detach().reshape(-1).tolist()]}


def draw(gen, *shape):
    # drawn in float64, rounded to float32: both precisions start from the same values
    return (torch.rand(*shape, generator=gen, dtype=torch.float64) * 2 - 1).float().double()


gen = torch.Generator().manual_seed(20240917)
X = draw(gen, 6, 4) * 2
Y = draw(gen, 6, 3)
W0 = draw(gen, 3, 4)
B0 = draw(gen, 3) * 0.5

CONFIGS = [
    ("sgd_plain", "sgd", {"LearningRate": 0.1}),
    ("sgd_momentum_dampening", "sgd", {"LearningRate": 0.1, "Momentum": 0.9, "Dampening": 0.1}),
    ("sgd_nesterov", "sgd", {"LearningRate": 0.05, "Momentum": 0.9, "Nesterov": True}),
    ("sgd_weight_decay", "sgd", {"LearningRate": 0.1, "Momentum": 0.5, "WeightDecay": 0.01}),
    ("adam", "adam", {"LearningRate": 0.01}),
    ("adam_weight_decay_amsgrad", "adam",
     {"LearningRate": 0.02, "Beta1": 0.8, "Beta2": 0.99, "Eps": 1e-6, "WeightDecay": 0.1, "AmsGrad": True}),
    ("adamw", "adamw", {"LearningRate": 0.01}),
    ("adamw_amsgrad", "adamw", {"LearningRate": 0.02, "WeightDecay": 0.1, "AmsGrad": True}),
    ("rmsprop", "rmsprop", {"LearningRate": 0.01}),
    ("rmsprop_momentum_weight_decay", "rmsprop", {"LearningRate": 0.01, "Momentum": 0.9, "WeightDecay": 0.05}),
    ("rmsprop_centered", "rmsprop", {"LearningRate": 0.01, "Alpha": 0.9, "Eps": 1e-6, "Centered": True, "Momentum": 0.5}),
]


def make_optimizer(kind, params, o):
    lr = o["LearningRate"]
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=o.get("Momentum", 0), dampening=o.get("Dampening", 0),
                               weight_decay=o.get("WeightDecay", 0), nesterov=o.get("Nesterov", False), foreach=False)
    if kind in ("adam", "adamw"):
        cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
        kw = {}
        if "WeightDecay" in o:
            kw["weight_decay"] = o["WeightDecay"]
        return cls(params, lr=lr, betas=(o.get("Beta1", 0.9), o.get("Beta2", 0.999)), eps=o.get("Eps", 1e-8),
                   amsgrad=o.get("AmsGrad", False), foreach=False, **kw)
    if kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=o.get("Alpha", 0.99), eps=o.get("Eps", 1e-8),
                                   weight_decay=o.get("WeightDecay", 0), momentum=o.get("Momentum", 0),
                                   centered=o.get("Centered", False), foreach=False)
    raise ValueError(kind)


def run(kind, options, dtype):
    x, y = X.to(dtype), Y.to(dtype)
    w = W0.to(dtype).clone().requires_grad_()
    b = B0.to(dtype).clone().requires_grad_()
    opt = make_optimizer(kind, [w, b], options)
    number = f32_number if dtype == torch.float32 else f64_number
    steps = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = ((x @ w.T + b - y) ** 2).mean()
        loss.backward()
        opt.step()
        steps.append({"weight": enc(w, number)["data"], "bias": enc(b, number)["data"]})
    return steps


optimizers = []
for name, kind, options in CONFIGS:
    for dtype, dname in ((torch.float32, "float32"), (torch.float64, "float64")):
        optimizers.append({"name": name, "optimizer": kind, "options": options, "dtype": dname,
                           "steps": run(kind, options, dtype)})

SCHEDULERS = [
    ("step_lr", 0.1, {"StepSize": 3, "Gamma": 0.5}, 12,
     lambda opt, o: torch.optim.lr_scheduler.StepLR(opt, step_size=o["StepSize"], gamma=o["Gamma"])),
    ("exponential_lr", 0.1, {"Gamma": 0.9}, 12,
     lambda opt, o: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=o["Gamma"])),
    ("cosine_annealing_lr", 0.1, {"TMax": 5, "EtaMin": 0.001}, 16,
     lambda opt, o: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=o["TMax"], eta_min=o["EtaMin"])),
    ("linear_warmup", 0.1, {"WarmupSteps": 4, "StartFactor": 0.25}, 8,
     lambda opt, o: torch.optim.lr_scheduler.LinearLR(opt, start_factor=o["StartFactor"], end_factor=1.0,
                                                      total_iters=o["WarmupSteps"])),
]

schedulers = []
for name, base_lr, options, epochs, make in SCHEDULERS:
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base_lr)
    sched = make(opt, options)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(epochs - 1):
        opt.step()  # no gradients: a no-op that keeps torch's call-order check quiet
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    schedulers.append({"name": name, "scheduler": name, "base_lr": base_lr, "options": options,
                       "lrs": [f64_number(v) for v in lrs]})

golden = {
    "problem": {"x": enc(X, f32_number), "y": enc(Y, f32_number), "weight": enc(W0, f32_number),
                "bias": enc(B0, f32_number)},
    "optimizers": optimizers,
    "schedulers": schedulers,
}
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump(golden, f, indent=1)
    f.write("\n")
print(f"wrote {OUT}: {len(optimizers)} optimizer runs, {len(schedulers)} schedules")
