#!/usr/bin/python3
"""Writes the PyTorch golden values that tests/Nabla.Tests/Golden/LayerGoldenTests.cs checks Nabla's layers
(src/Nabla/Nn), losses and a small CNN against.

Run with Debian's PyTorch (python3-torch 1.13):

    /usr/bin/python3 scripts/golden/make_layer_golden.py

Same conventions as make_golden.py (whose helpers this script imports): every case draws from its own fixed
generator seed; inputs, weights and buffers are drawn in float64 and rounded to float32, and the references are
computed in float64 from those rounded values with torch.nn modules / torch.nn.functional; each case stores a
random cotangent c and the gradients of (output * c).sum() with respect to every floating input and every
parameter of the module.

Output: tests/Nabla.Tests/Golden/layers.json, a list of cases:
    {"name", "kind", "params": {...}, "mode": "train"|"eval",
     "inputs": [{"shape", "data", "dtype", "requires_grad"}],          # inputs[0] is x; losses: [input, target]
     "weights": [{"name", "shape", "data"}],                            # the module's parameters, PyTorch names
     "buffers": [{"name", "shape", "data", "dtype"}],                   # buffers before the forward pass
     "output": {"shape", "data"}, "cotangent": {"shape", "data"},
     "input_grads": [{"shape", "data"} | null per input],
     "weight_grads": [{"name", "shape", "data"}],
     "buffers_after": [{"name", "shape", "data"}]}                      # buffers after the forward pass
"""

import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import OUT_DIR, Rng, enc_f32, enc_input, f32, f64_number, write  # noqa: E402

torch.set_default_dtype(torch.float64)

CASES = []
SEED = [5000]


def enc_f64(t):
    """A reference tensor, written to 10 significant digits (relative error <= 5e-11, far below the tests' rtol
    1e-4) to keep layers.json small."""
    return {"shape": list(t.shape), "data": [float(f"{f64_number(v):.10g}") for v in t.detach().reshape(-1).tolist()]}


def enc_buffer(name, t):
    if t.is_floating_point():
        return dict(name=name, dtype="float32", **enc_f64(t))
    return dict(name=name, dtype="int64", shape=list(t.shape), data=[int(v) for v in t.reshape(-1).tolist()])


def case(name, kind, inputs, fn, module=None, params=None, mode="eval", grad_inputs=None, cotangent="random"):
    """inputs: tensors (float64 holding float32 values, or int64). fn(*leaves) is the PyTorch reference; it may use
    `module`, a float64 torch module whose parameters and buffers hold float32 values. grad_inputs: which inputs get
    gradients (default: every floating input). cotangent="one" stores c = 1 for a scalar output (plain loss
    gradients)."""
    if any(c["name"] == name for c in CASES):
        raise ValueError(f"duplicate case name {name}")
    if grad_inputs is None:
        grad_inputs = [t.is_floating_point() for t in inputs]
    leaves = [t.detach().clone().requires_grad_(bool(g)) for t, g in zip(inputs, grad_inputs)]
    named = list(module.named_parameters()) if module is not None else []
    buffers = [enc_buffer(k, v.detach().clone()) for k, v in module.named_buffers()] if module is not None else []
    for k, p in named:
        if not torch.equal(p.detach(), f32(p.detach())):
            raise ValueError(f"{name}: parameter {k} is not float32-representable")
        p.requires_grad_(True)
    for m in (module, fn):
        if isinstance(m, nn.Module):
            m.train(mode == "train")
    out = fn(*leaves)
    entry = {"name": name, "kind": kind, "params": params or {}, "mode": mode,
             "inputs": [enc_input(t, t.requires_grad) for t in leaves],
             "weights": [dict(name=k, **enc_f32(p)) for k, p in named],
             "buffers": buffers,
             "output": enc_f64(out)}
    SEED[0] += 1
    cot = torch.ones(()) if cotangent == "one" else Rng(SEED[0]).randn(*out.shape)
    wrt = [t for t in leaves if t.requires_grad] + [p for _, p in named]
    grads = iter(torch.autograd.grad((out * cot).sum(), wrt, allow_unused=True))
    ig = []
    for t in leaves:
        if t.requires_grad:
            g = next(grads)
            ig.append(enc_f64(g if g is not None else torch.zeros_like(t)))
        else:
            ig.append(None)
    wg = []
    for (k, p) in named:
        g = next(grads)
        wg.append(dict(name=k, **enc_f64(g if g is not None else torch.zeros_like(p))))
    entry["cotangent"] = enc_f32(cot)
    entry["input_grads"] = ig
    entry["weight_grads"] = wg
    entry["buffers_after"] = [enc_buffer(k, v.detach()) for k, v in module.named_buffers()] if module is not None else []
    CASES.append(entry)


def uniform_like_default(rng, shape, fan_in):
    """PyTorch's default bound for Linear/Conv weights and biases, U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(fan_in)
    return rng.uniform(-bound, bound, *shape)


def set_params(module, **values):
    with torch.no_grad():
        for k, v in values.items():
            getattr(module, k).copy_(v)
    return module


def conv(rng, cin, cout, k, stride=1, padding=0, dilation=1, groups=1, bias=True):
    m = nn.Conv2d(cin, cout, k, stride=stride, padding=padding, dilation=dilation, groups=groups, bias=bias)
    fan_in = cin // groups * k * k
    set_params(m, weight=uniform_like_default(rng, (cout, cin // groups, k, k), fan_in))
    if bias:
        set_params(m, bias=uniform_like_default(rng, (cout,), fan_in))
    return m


def conv_params(cin, cout, k, stride=1, padding=0, dilation=1, groups=1, bias=True):
    return {"in": cin, "out": cout, "kernel": k, "stride": stride, "padding": padding, "dilation": dilation,
            "groups": groups, "bias": bias}


# ----------------------------------------------------------------------------------------------------------------
# layers

def build_conv():
    r = Rng(100)
    for name, x, p in [
        ("conv2d_1to3_k5_pad2", r.randn(2, 1, 8, 8), conv_params(1, 3, 5, padding=2)),
        ("conv2d_1to3_k5_pad2_nobias", r.randn(1, 1, 6, 6), conv_params(1, 3, 5, padding=2, bias=False)),
        ("conv2d_3to4_k3_stride2_pad1", r.randn(2, 3, 7, 6), conv_params(3, 4, 3, stride=2, padding=1)),
        ("conv2d_3to4_k3_stride2_pad1_nobias", r.randn(1, 3, 6, 7), conv_params(3, 4, 3, stride=2, padding=1, bias=False)),
        ("conv2d_2to3_k3_dilation2", r.randn(2, 2, 7, 6), conv_params(2, 3, 3, dilation=2)),
        ("conv2d_2to3_k3_dilation2_pad2_nobias", r.randn(1, 2, 7, 7), conv_params(2, 3, 3, padding=2, dilation=2, bias=False)),
        ("conv2d_groups2_4to6_k3_pad1", r.randn(2, 4, 5, 4), conv_params(4, 6, 3, padding=1, groups=2)),
        ("conv2d_groups2_4to6_k2_stride2_nobias", r.randn(1, 4, 6, 5), conv_params(4, 6, 2, stride=2, groups=2, bias=False)),
        ("conv2d_1x1_3to5", r.randn(2, 3, 3, 3), conv_params(3, 5, 1)),
    ]:
        m = conv(r, p["in"], p["out"], p["kernel"], p["stride"], p["padding"], p["dilation"], p["groups"], p["bias"])
        case(name, "conv2d", [x], m, module=m, params=p)


def build_pooling():
    r = Rng(200)
    # continuous inputs: no ties
    x = r.randn(2, 2, 6, 6)
    case("maxpool_k2_s2", "maxpool2d", [x], nn.MaxPool2d(2, 2), params={"kernel": 2, "stride": 2, "padding": 0})
    x = r.randn(1, 2, 7, 7)
    case("maxpool_k3_s2_p1", "maxpool2d", [x], nn.MaxPool2d(3, 2, 1), params={"kernel": 3, "stride": 2, "padding": 1})
    x = r.randn(1, 2, 7, 6)
    case("maxpool_k2_s2_odd_input", "maxpool2d", [x], nn.MaxPool2d(2, 2), params={"kernel": 2, "stride": 2, "padding": 0})

    # ties: PyTorch routes a window's gradient to the first maximum (row-major) of the window; overlapping windows
    # (3x3 stride 2) can pick different cells of the same tie, or the same cell twice (accumulates)
    x = torch.round(r.randn(2, 2, 6, 6) * 0.7)
    x[0, 0] = 1.0  # a whole constant plane
    case("maxpool_k2_s2_ties", "maxpool2d", [x], nn.MaxPool2d(2, 2), params={"kernel": 2, "stride": 2, "padding": 0})
    x = torch.round(r.randn(2, 2, 7, 7) * 0.7)
    x[1, 1] = -2.0  # constant negative plane: padding (-inf) must never win
    case("maxpool_k3_s2_p1_ties", "maxpool2d", [x], nn.MaxPool2d(3, 2, 1), params={"kernel": 3, "stride": 2, "padding": 1})

    x = r.randn(2, 2, 6, 6)
    case("avgpool_k2_s2", "avgpool2d", [x], nn.AvgPool2d(2, 2), params={"kernel": 2, "stride": 2, "padding": 0})
    x = r.randn(1, 2, 7, 7)
    case("avgpool_k3_s2_p1", "avgpool2d", [x], nn.AvgPool2d(3, 2, 1, count_include_pad=True),
         params={"kernel": 3, "stride": 2, "padding": 1})
    x = r.randn(1, 2, 6, 7)
    case("avgpool_k3_s2_p1_even", "avgpool2d", [x], nn.AvgPool2d(3, 2, 1, count_include_pad=True),
         params={"kernel": 3, "stride": 2, "padding": 1})

    x = r.randn(2, 3, 5, 4)
    case("global_max_pool", "global_max_pool", [x], lambda t: F.adaptive_max_pool2d(t, 1).flatten(1))
    case("global_avg_pool", "global_avg_pool", [x], lambda t: F.adaptive_avg_pool2d(t, 1).flatten(1))
    # ties in a global max: Nabla's GlobalMaxPool2d is Max over (H, W), which shares a tied maximum's gradient evenly
    # (torch.amax's convention, checked in ops.json); F.adaptive_max_pool2d would send it all to the first maximum.
    # The reference here is amax, pinning Nabla's documented behaviour.
    x = torch.round(r.randn(2, 2, 3, 3) * 0.7)
    x[0, 1] = 0.5
    case("global_max_pool_ties_amax", "global_max_pool", [x], lambda t: t.amax(dim=(2, 3)))
    case("flatten_4d", "flatten", [r.randn(2, 3, 2, 2)], nn.Flatten())
    case("flatten_3d", "flatten", [r.randn(3, 2, 4)], nn.Flatten())


def build_batchnorm():
    r = Rng(300)

    def bn(cls, c, eps=1e-5, momentum=0.1, stats=True):
        m = cls(c, eps=eps, momentum=momentum)
        set_params(m, weight=r.uniform(0.5, 1.5, c), bias=r.randn(c, scale=0.5))
        if stats:
            set_params(m, running_mean=r.randn(c, scale=0.5), running_var=r.uniform(0.5, 2.0, c))
        return m

    for mode in ("train", "eval"):
        m = bn(nn.BatchNorm1d, 4)
        case(f"batchnorm1d_2d_input_{mode}", "batchnorm1d", [r.randn(6, 4, scale=2.0, shift=0.5)], m, module=m,
             params={"features": 4, "eps": 1e-5, "momentum": 0.1}, mode=mode)
        m = bn(nn.BatchNorm1d, 3)
        case(f"batchnorm1d_3d_input_{mode}", "batchnorm1d", [r.randn(4, 3, 5, scale=1.5, shift=-1.0)], m, module=m,
             params={"features": 3, "eps": 1e-5, "momentum": 0.1}, mode=mode)
        m = bn(nn.BatchNorm2d, 3)
        case(f"batchnorm2d_{mode}", "batchnorm2d", [r.randn(2, 3, 3, 4, scale=2.0, shift=1.0)], m, module=m,
             params={"features": 3, "eps": 1e-5, "momentum": 0.1}, mode=mode)
    # non-default eps and momentum, starting from the default buffers (running mean 0, var 1)
    m = bn(nn.BatchNorm2d, 2, eps=1e-3, momentum=0.3, stats=False)
    case("batchnorm2d_train_eps1e-3_momentum0.3", "batchnorm2d", [r.randn(2, 2, 3, 3, scale=0.5)], m, module=m,
         params={"features": 2, "eps": 1e-3, "momentum": 0.3}, mode="train")


def build_activations():
    r = Rng(400)
    x = r.randn(3, 5, scale=2.0)
    x[0, 0] = 0.0
    x[2, 3] = 0.0
    case("leaky_relu_0.5_with_zeros", "leaky_relu", [x], nn.LeakyReLU(0.5), params={"negative_slope": 0.5})
    x = r.randn(2, 6)
    x[1, 1] = 0.0
    case("leaky_relu_0.01", "leaky_relu", [x], nn.LeakyReLU(0.01), params={"negative_slope": 0.01})
    case("relu_with_zeros", "relu", [x], nn.ReLU())
    # large |x| on both sides, PyTorch's linear threshold (x > 20) and x = 0
    x = torch.cat([r.randn(6, scale=2.0), f32(torch.tensor([0.0, 15.0, 20.0, 25.0, 40.0, 100.0, -15.0, -25.0, -40.0,
                                                            -100.0]))])
    case("softplus_large_and_zero", "softplus", [x], nn.Softplus())
    x = torch.cat([r.randn(8, scale=3.0), f32(torch.tensor([30.0, -30.0, 0.0]))])
    case("sigmoid", "sigmoid", [x], nn.Sigmoid())
    case("tanh", "tanh", [x], nn.Tanh())
    x = r.randn(3, 4)
    x[1, 2] = 0.0
    case("abs_with_zero", "abs", [x], lambda t: torch.abs(t))
    x = r.randn(3, 5, scale=2.0)
    x[2] = torch.tensor([1000.0, -1000.0, 999.0, 0.0, 1000.0])
    case("softmax_dim1", "softmax", [x], nn.Softmax(dim=1), params={"dim": 1})
    case("log_softmax_dim1", "log_softmax", [x], nn.LogSoftmax(dim=1), params={"dim": 1})
    case("softmax_dim0_3d", "softmax", [r.randn(3, 2, 4)], nn.Softmax(dim=0), params={"dim": 0})
    case("log_softmax_dim_neg1_3d", "log_softmax", [r.randn(2, 3, 4)], nn.LogSoftmax(dim=-1), params={"dim": -1})
    # dropout: the identity in evaluation; in training its mask comes from the generator, so no golden value
    case("dropout_eval_identity", "dropout", [r.randn(3, 4)], nn.Dropout(0.5), params={"p": 0.5}, mode="eval")

    m = nn.Linear(5, 3)
    set_params(m, weight=uniform_like_default(r, (3, 5), 5), bias=uniform_like_default(r, (3,), 5))
    case("linear_5to3", "linear", [r.randn(4, 5)], m, module=m, params={"in": 5, "out": 3, "bias": True})
    m = nn.Linear(4, 2, bias=False)
    set_params(m, weight=uniform_like_default(r, (2, 4), 4))
    case("linear_4to2_nobias_3d_input", "linear", [r.randn(2, 3, 4)], m, module=m, params={"in": 4, "out": 2, "bias": False})


# ----------------------------------------------------------------------------------------------------------------
# losses (inputs: [prediction, target]; only the prediction gets a gradient)

def build_losses():
    r = Rng(600)
    p, t = r.randn(4, 3), r.randn(4, 3)
    for red in ("mean", "sum", "none"):
        case(f"mse_{red}", "mse", [p, t], lambda a, b, red=red: F.mse_loss(a, b, reduction=red),
             params={"reduction": red}, grad_inputs=[True, False])

    logits = r.randn(5, 4, scale=2.0)
    logits[3] = torch.tensor([1000.0, -1000.0, 999.0, 0.0])
    target = torch.tensor([2, 0, 3, 2, 1])
    for red in ("mean", "sum"):
        case(f"cross_entropy_{red}", "cross_entropy", [logits, target],
             lambda a, b, red=red: F.cross_entropy(a, b, reduction=red), params={"reduction": red})
    case("cross_entropy_none", "cross_entropy", [logits, target],
         lambda a, b: F.cross_entropy(a, b, reduction="none"), params={"reduction": "none"})

    # BCE with logits: soft and hard targets, large logits and logit 0 (gradient sigmoid(0) - y = 0.5 - y)
    s = torch.cat([r.randn(8, scale=2.0), f32(torch.tensor([0.0, 0.0, 40.0, -40.0]))]).reshape(3, 4)
    y = torch.cat([r.ints(0, 2, 6).to(torch.float64), r.uniform(0.0, 1.0, 6)]).reshape(3, 4)
    for red in ("mean", "sum"):
        case(f"bce_with_logits_{red}", "bce_with_logits", [s, y],
             lambda a, b, red=red: F.binary_cross_entropy_with_logits(a, b, reduction=red),
             params={"reduction": red}, grad_inputs=[True, False])

    # logistic (soft-margin) loss log(1 + exp(-y s)), labels +-1, including y s = 0 and |y s| large
    s = torch.cat([r.randn(7, scale=2.0), f32(torch.tensor([0.0, 30.0, -30.0]))])
    y = (r.ints(0, 2, 10) * 2 - 1).to(torch.float64)
    case("logistic_mean", "logistic", [s, y], lambda a, b: F.soft_margin_loss(a, b, reduction="mean"),
         params={"reduction": "mean"}, grad_inputs=[True, False])
    case("logistic_none", "logistic", [s, y], lambda a, b: F.soft_margin_loss(a, b, reduction="none"),
         params={"reduction": "none"}, grad_inputs=[True, False])

    # hinge max(0, 1 - y s) written by hand; includes the kink 1 - y s = 0 exactly (relu'(0) = 0 in both)
    s = torch.cat([r.randn(6, scale=1.5), f32(torch.tensor([1.0, -1.0]))])
    y = torch.cat([(r.ints(0, 2, 6) * 2 - 1).to(torch.float64), torch.tensor([1.0, -1.0])])
    for red in ("mean", "sum", "none"):
        fn = {"mean": lambda a, b: torch.relu(1 - b * a).mean(), "sum": lambda a, b: torch.relu(1 - b * a).sum(),
              "none": lambda a, b: torch.relu(1 - b * a)}[red]
        case(f"hinge_{red}", "hinge", [s, y], fn, params={"reduction": red}, grad_inputs=[True, False])

    # multi-class hinge (multi_margin_loss, p = 1); row 1 has a term exactly at the margin (z = 0 contributes nothing)
    x = r.randn(4, 5)
    target = torch.tensor([1, 3, 0, 4])
    x[1] = torch.tensor([0.25, -0.5, 0.75, 0.5, -2.0])  # target 3: 1 - 0.5 + (-0.5) = 0
    for red, margin in (("mean", 1.0), ("sum", 1.0), ("none", 1.0), ("mean", 0.5)):
        case(f"multi_margin_{red}_margin{margin}", "multi_margin", [x, target],
             lambda a, b, red=red, margin=margin: F.multi_margin_loss(a, b, margin=margin, reduction=red),
             params={"reduction": red, "margin": margin})

    # L2 penalty lambda * sum of squares over several tensors
    case("l2_two_tensors", "l2", [r.randn(3, 4), r.randn(5)], lambda a, b: 0.01 * ((a * a).sum() + (b * b).sum()),
         params={"lambda": 0.01})


# ----------------------------------------------------------------------------------------------------------------
# a small CNN end to end

class GlobalAvgPool(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


def build_cnn():
    r = Rng(700)
    x = r.randn(4, 1, 8, 8)
    target = r.ints(0, 3, 4)
    model = nn.Sequential(
        conv(r, 1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        conv(r, 4, 8, 3), nn.ReLU(), GlobalAvgPool(), nn.Linear(8, 3))
    set_params(model[6], weight=uniform_like_default(r, (3, 8), 8), bias=uniform_like_default(r, (3,), 8))
    case("small_cnn_cross_entropy", "small_cnn_ce", [x, target], lambda a, b: F.cross_entropy(model(a), b),
         module=model, cotangent="one")


def main():
    torch.manual_seed(0)
    build_conv()
    build_pooling()
    build_batchnorm()
    build_activations()
    build_losses()
    build_cnn()
    n = write(os.path.join(OUT_DIR, "layers.json"), CASES)
    print(f"torch {torch.__version__}: {len(CASES)} layer cases ({n} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
