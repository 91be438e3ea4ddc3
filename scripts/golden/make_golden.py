#!/usr/bin/python3
"""Writes the PyTorch golden values that tests/Nabla.Tests/Golden/GoldenTests.cs checks Nabla against.

Run with Debian's PyTorch (python3-torch 1.13):

    /usr/bin/python3 scripts/golden/make_golden.py

Deterministic: every case draws from its own fixed torch.Generator seed. Inputs are drawn in float64 and rounded
to float32 (Nabla runs in float32, so it sees exactly the same values); the reference outputs and gradients are
then computed in float64 from those rounded inputs, i.e. they are the "true" values Nabla's float32 results should
approach. Each differentiable case also stores a random cotangent c; the stored gradients are those of
(output * c).sum(), so a case with a non-scalar output checks a full vector-Jacobian product, not just a sum.

Output: tests/Nabla.Tests/Golden/ops.json and tests/Nabla.Tests/Golden/networks.json.

ops.json is a list of cases:
    {"name", "op", "params": {...},
     "inputs": [{"shape", "data", "dtype": "float32"|"int64"|"bool", "requires_grad"}],
     "output": {"shape", "data"}, "cotangent": {"shape", "data"} | null,
     "grads": [{"shape", "data"} | null per input]}
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(ROOT, "tests", "Nabla.Tests", "Golden")


# ----------------------------------------------------------------------------------------------------------------
# number formatting

def f32_number(v):
    """A JSON number for a float32 value: the shortest decimal that reads back (as a double, then rounded to
    float32) to exactly that float32; the full double repr when the short form would not."""
    f = np.float32(v)
    if not np.isfinite(f):
        raise ValueError(f"non-finite input value {v}")
    short = float(str(f))
    if np.float32(short) == f:
        return short
    return float(f)


def f64_number(v):
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"non-finite reference value {v}")
    return v


def enc_input(t, requires_grad):
    t = t.detach()
    if t.dtype == torch.bool:
        dtype, data = "bool", [int(v) for v in t.reshape(-1).tolist()]
    elif t.dtype == torch.int64:
        dtype, data = "int64", [int(v) for v in t.reshape(-1).tolist()]
    else:
        dtype, data = "float32", [f32_number(v) for v in t.reshape(-1).tolist()]
    return {"shape": list(t.shape), "data": data, "dtype": dtype, "requires_grad": bool(requires_grad)}


def enc_f32(t):
    return {"shape": list(t.shape), "data": [f32_number(v) for v in t.detach().reshape(-1).tolist()]}


def enc_f64(t):
    return {"shape": list(t.shape), "data": [f64_number(v) for v in t.detach().reshape(-1).tolist()]}


# ----------------------------------------------------------------------------------------------------------------
# random data (float64 drawn, rounded to float32, kept as float64 tensors holding float32 values)

class Rng:
    def __init__(self, seed):
        self.g = torch.Generator().manual_seed(seed)

    def randn(self, *shape, scale=1.0, shift=0.0):
        return f32(torch.randn(shape, generator=self.g, dtype=torch.float64) * scale + shift)

    def uniform(self, lo, hi, *shape):
        return f32(torch.rand(shape, generator=self.g, dtype=torch.float64) * (hi - lo) + lo)

    def ints(self, lo, hi, *shape):
        return torch.randint(lo, hi, shape, generator=self.g, dtype=torch.int64)


def f32(t):
    return t.to(torch.float32).to(torch.float64)


# ----------------------------------------------------------------------------------------------------------------
# cases

CASES = []
SEED = [1000]


def case(name, op, fn, inputs, params=None, differentiable=True):
    """inputs: list of tensors; floating ones require gradients when differentiable. fn(*inputs) is the PyTorch
    reference (computed in float64)."""
    if any(c["name"] == name for c in CASES):
        raise ValueError(f"duplicate case name {name}")
    leaves = []
    for t in inputs:
        t = t.detach().clone()
        if differentiable and t.is_floating_point():
            t.requires_grad_(True)
        leaves.append(t)
    out = fn(*leaves)
    if out.dtype != torch.float64:
        out = out.to(torch.float64)
    entry = {"name": name, "op": op, "params": params or {}, "inputs": [enc_input(t, t.requires_grad) for t in leaves],
             "output": enc_f64(out), "cotangent": None, "grads": [None] * len(leaves)}
    if differentiable and out.requires_grad:
        SEED[0] += 1
        cot = Rng(SEED[0]).randn(*out.shape)
        grads = torch.autograd.grad((out * cot).sum(), [t for t in leaves if t.requires_grad], allow_unused=True)
        it = iter(grads)
        gl = []
        for t in leaves:
            if t.requires_grad:
                g = next(it)
                gl.append(enc_f64(g if g is not None else torch.zeros_like(t)))
            else:
                gl.append(None)
        entry["cotangent"] = enc_f32(cot)
        entry["grads"] = gl
    CASES.append(entry)


def build_ops():
    r = Rng(0)

    # --- binary elementwise with broadcasting ---
    case("add_same", "add", torch.add, [r.randn(3, 4), r.randn(3, 4)])
    case("add_row_broadcast", "add", torch.add, [r.randn(3, 4), r.randn(4)])
    case("add_scalar_tensor", "add", torch.add, [r.randn(2, 3), r.randn()])
    case("sub_broadcast", "sub", torch.sub, [r.randn(3, 4), r.randn(4)])
    case("sub_col_broadcast", "sub", torch.sub, [r.randn(3, 1), r.randn(3, 4)])
    case("mul_broadcast_3d", "mul", torch.mul, [r.randn(2, 1, 3), r.randn(4, 1)])
    case("mul_row_broadcast", "mul", torch.mul, [r.randn(3, 4), r.randn(4)])
    den = r.uniform(0.5, 2.0, 4, 1) * (r.ints(0, 2, 4, 1) * 2 - 1).to(torch.float64)
    case("div_broadcast_3d", "div", torch.div, [r.randn(2, 1, 3), den])
    case("div_row_broadcast", "div", torch.div, [r.randn(3, 4), r.uniform(0.5, 2.0, 4)])
    case("pow_tensor_tensor", "pow", torch.pow, [r.uniform(0.2, 2.5, 3, 4), r.uniform(-2.0, 3.0, 3, 4)])
    case("pow_broadcast", "pow", torch.pow, [r.uniform(0.5, 2.0, 2, 1, 3), r.uniform(-1.5, 2.5, 4, 1)])
    # zero bases: PyTorch defines d/da aᵇ = 0 where b = 0, and d/db aᵇ = 0 where a = 0 (and b >= 0)
    case("pow_zero_base", "pow", torch.pow,
         [f32(torch.tensor([0.0, 0.0, 0.0, 0.0, 1.5, 0.5, 2.0, 0.0])),
          f32(torch.tensor([0.0, 1.0, 2.0, 3.5, 0.0, 2.0, -1.0, 1.5]))])
    x = r.randn(2, 3)
    x[0, 1] = 0.0
    case("pow_scalar_zero_exponent", "pow_scalar", lambda t: torch.pow(t, 0.0), [x], {"exponent": 0.0})
    case("pow_scalar_cube_negative_base", "pow_scalar", lambda x: torch.pow(x, 3.0), [r.randn(3, 4)],
         {"exponent": 3.0})
    case("pow_scalar_square", "pow_scalar", lambda x: torch.pow(x, 2.0), [r.randn(3, 4)], {"exponent": 2.0})
    case("pow_scalar_half", "pow_scalar", lambda x: torch.pow(x, 0.5), [r.uniform(0.1, 4.0, 3, 4)],
         {"exponent": 0.5})
    case("pow_scalar_negative", "pow_scalar", lambda x: torch.pow(x, -1.5), [r.uniform(0.3, 3.0, 3, 4)],
         {"exponent": -1.5})
    case("add_scalar_const", "add_scalar", lambda x: x + 2.5, [r.randn(3, 4)], {"value": 2.5})
    case("rsub_scalar_const", "rsub_scalar", lambda x: 1.5 - x, [r.randn(3, 4)], {"value": 1.5})
    case("mul_scalar_const", "mul_scalar", lambda x: x * -3.0, [r.randn(3, 4)], {"value": -3.0})
    case("rdiv_scalar_const", "rdiv_scalar", lambda x: 2.0 / x, [r.uniform(0.5, 2.0, 3, 4)], {"value": 2.0})
    case("neg", "neg", torch.neg, [r.randn(3, 4)])

    # maximum / minimum with ties (PyTorch splits the gradient of a tie in half)
    a = torch.round(r.randn(3, 4) * 2) / 2
    b = torch.round(r.randn(3, 4) * 2) / 2
    b[0, :] = a[0, :]
    case("maximum_ties", "maximum", torch.maximum, [a, b])
    case("minimum_ties", "minimum", torch.minimum, [a, b])
    a = torch.round(r.randn(2, 3, 4) * 2) / 2
    b = torch.round(r.randn(3, 1) * 2) / 2
    a[0, :, 0] = b[:, 0]
    case("maximum_broadcast_ties", "maximum", torch.maximum, [a, b])
    case("minimum_broadcast_ties", "minimum", torch.minimum, [a, b])

    # --- unary elementwise ---
    case("exp", "exp", torch.exp, [r.randn(3, 4, scale=2.0)])
    case("log", "log", torch.log, [r.uniform(0.05, 5.0, 3, 4)])
    case("log1p", "log1p", torch.log1p, [torch.cat([r.uniform(-0.9, 3.0, 10), f32(torch.tensor([1e-6, -1e-7]))])])
    case("sqrt", "sqrt", torch.sqrt, [r.uniform(0.01, 9.0, 3, 4)])
    x = r.randn(3, 4)
    x[0, 0] = 0.0
    x[1, 2] = 0.0
    case("abs_with_zeros", "abs", torch.abs, [x])
    case("sin", "sin", torch.sin, [r.randn(3, 4, scale=3.0)])
    case("cos", "cos", torch.cos, [r.randn(3, 4, scale=3.0)])
    case("tanh", "tanh", torch.tanh, [torch.cat([r.randn(10, scale=2.0), f32(torch.tensor([15.0, -20.0]))])])
    case("sigmoid", "sigmoid", torch.sigmoid,
         [torch.cat([r.randn(10, scale=3.0), f32(torch.tensor([30.0, -30.0]))])])
    x = r.randn(3, 5)
    x[0, 1] = 0.0
    x[1, 3] = 0.0
    x[2, 0] = 0.0
    case("relu_with_zeros", "relu", torch.relu, [x])
    case("square", "square", torch.square, [r.randn(3, 4)])
    case("reciprocal", "reciprocal", torch.reciprocal, [r.uniform(0.5, 3.0, 3, 4)])

    # clamp: values exactly on the bounds keep their gradient in PyTorch (min <= x <= max)
    x = r.randn(4, 5)
    x[0, 0] = -0.5
    x[1, 1] = 0.75
    case("clamp_both", "clamp", lambda t: torch.clamp(t, -0.5, 0.75), [x], {"min": -0.5, "max": 0.75})
    case("clamp_min", "clamp", lambda t: torch.clamp(t, min=0.25), [r.randn(3, 4)], {"min": 0.25, "max": None})
    case("clamp_max", "clamp", lambda t: torch.clamp(t, max=-0.25), [r.randn(3, 4)], {"min": None, "max": -0.25})

    # --- reductions ---
    x = r.randn(2, 3, 4)
    case("sum_all", "sum", lambda t: t.sum(), [x], {"axes": None, "keepdim": False})
    case("sum_axis1", "sum", lambda t: t.sum(dim=1), [x], {"axes": [1], "keepdim": False})
    case("sum_axes02_keepdim", "sum", lambda t: t.sum(dim=(0, 2), keepdim=True), [x], {"axes": [0, 2], "keepdim": True})
    case("sum_neg_axis", "sum", lambda t: t.sum(dim=-1), [x], {"axes": [-1], "keepdim": False})
    case("mean_all", "mean", lambda t: t.mean(), [x], {"axes": None, "keepdim": False})
    case("mean_axis2_keepdim", "mean", lambda t: t.mean(dim=2, keepdim=True), [x], {"axes": [2], "keepdim": True})
    case("mean_axes01", "mean", lambda t: t.mean(dim=(0, 1)), [x], {"axes": [0, 1], "keepdim": False})
    case("var_all", "var", lambda t: t.var(), [x], {"axes": None, "keepdim": False, "correction": 1})
    case("var_axis1", "var", lambda t: t.var(dim=1), [x], {"axes": [1], "keepdim": False, "correction": 1})
    case("var_axes02_keepdim", "var", lambda t: t.var(dim=(0, 2), keepdim=True), [x],
         {"axes": [0, 2], "keepdim": True, "correction": 1})
    case("var_axis2_biased", "var", lambda t: t.var(dim=2, unbiased=False), [x],
         {"axes": [2], "keepdim": False, "correction": 0})

    # amax / amin with ties: PyTorch shares the gradient evenly among the tied extrema
    x = torch.round(r.randn(3, 5) * 1.5)
    x[0, :] = torch.tensor([2.0, -1.0, 2.0, 0.0, 2.0])
    x[1, :] = torch.tensor([-3.0, 1.0, -3.0, 1.0, 0.0])
    case("amax_axis1_ties", "amax", lambda t: t.amax(dim=1), [x], {"axes": [1], "keepdim": False})
    case("amin_axis1_ties", "amin", lambda t: t.amin(dim=1), [x], {"axes": [1], "keepdim": False})
    case("amax_axis0_keepdim_ties", "amax", lambda t: t.amax(dim=0, keepdim=True), [x], {"axes": [0], "keepdim": True})
    case("amin_axis0_keepdim_ties", "amin", lambda t: t.amin(dim=0, keepdim=True), [x], {"axes": [0], "keepdim": True})
    case("amax_all_ties", "amax", lambda t: t.amax(), [x], {"axes": None, "keepdim": False})
    case("amin_all_ties", "amin", lambda t: t.amin(), [x], {"axes": None, "keepdim": False})
    y = r.randn(2, 3, 4)
    case("amax_axes12", "amax", lambda t: t.amax(dim=(1, 2)), [y], {"axes": [1, 2], "keepdim": False})

    # logsumexp / softmax / log_softmax, including rows of huge logits
    x = r.randn(4, 5, scale=2.0)
    x[1, :] = torch.tensor([1000.0, -1000.0, 999.0, 0.0, 1000.0])
    x[2, :] = torch.tensor([-1000.0, -999.5, -1000.0, -1001.0, -1000.0])
    case("logsumexp_axis1_big", "logsumexp", lambda t: torch.logsumexp(t, dim=1), [x], {"axis": 1, "keepdim": False})
    case("logsumexp_axis0_keepdim", "logsumexp", lambda t: torch.logsumexp(t, dim=0, keepdim=True), [r.randn(4, 5)],
         {"axis": 0, "keepdim": True})
    case("softmax_axis1_big", "softmax", lambda t: torch.softmax(t, dim=1), [x], {"axis": 1})
    case("softmax_axis0", "softmax", lambda t: torch.softmax(t, dim=0), [r.randn(4, 5, scale=2.0)], {"axis": 0})
    case("log_softmax_axis1_big", "log_softmax", lambda t: torch.log_softmax(t, dim=1), [x], {"axis": 1})
    case("log_softmax_3d_axis_neg1", "log_softmax", lambda t: torch.log_softmax(t, dim=-1), [r.randn(2, 3, 4)],
         {"axis": -1})

    # --- matmul ---
    case("matmul_2d", "matmul", torch.matmul, [r.randn(3, 4), r.randn(4, 5)])
    case("matmul_batched_2d_rhs", "matmul", torch.matmul, [r.randn(2, 3, 4), r.randn(4, 5)])
    case("matmul_batched_broadcast", "matmul", torch.matmul, [r.randn(2, 1, 3, 4), r.randn(3, 4, 2)])
    case("matmul_2d_lhs_batched_rhs", "matmul", torch.matmul, [r.randn(3, 4), r.randn(2, 4, 5)])
    case("matmul_1d_1d", "matmul", torch.matmul, [r.randn(5), r.randn(5)])
    case("matmul_1d_2d", "matmul", torch.matmul, [r.randn(4), r.randn(4, 3)])
    case("matmul_2d_1d", "matmul", torch.matmul, [r.randn(3, 4), r.randn(4)])
    case("matmul_1d_3d", "matmul", torch.matmul, [r.randn(4), r.randn(2, 4, 3)])
    case("matmul_3d_1d", "matmul", torch.matmul, [r.randn(2, 3, 4), r.randn(4)])
    case("matmul_transposed_lhs", "matmul_transposed_lhs", lambda a, b: a.t().matmul(b), [r.randn(4, 3), r.randn(4, 5)])

    # --- movement ---
    x = r.randn(2, 3, 4)
    case("reshape", "reshape", lambda t: t.reshape(4, 6), [x], {"shape": [4, 6]})
    case("reshape_infer", "reshape", lambda t: t.reshape(-1, 2), [x], {"shape": [-1, 2]})
    case("permute", "permute", lambda t: t.permute(2, 0, 1), [x], {"dims": [2, 0, 1]})
    case("permute_then_reshape", "permute_reshape", lambda t: t.permute(1, 2, 0).reshape(3, 8), [x],
         {"dims": [1, 2, 0], "shape": [3, 8]})
    case("transpose", "transpose", lambda t: t.transpose(0, 2), [x], {"dim0": 0, "dim1": 2})
    case("transpose_neg", "transpose", lambda t: t.transpose(-1, -2), [x], {"dim0": -1, "dim1": -2})
    case("expand", "expand", lambda t: t.expand(2, 3, 4), [r.randn(3, 1)], {"shape": [2, 3, 4]})
    case("expand_keep", "expand", lambda t: t.expand(4, -1, 3), [r.randn(1, 2, 1)], {"shape": [4, -1, 3]})
    x = r.randn(4, 7)
    case("narrow", "narrow", lambda t: t.narrow(1, 2, 3), [x], {"axis": 1, "start": 2, "length": 3})
    case("slice_step2", "slice", lambda t: t[:, 1:6:2], [x], {"axis": 1, "start": 1, "end": 6, "step": 2})
    case("slice_step3_axis0", "slice", lambda t: t[0:4:3], [x], {"axis": 0, "start": 0, "end": 4, "step": 3})
    case("slice_negative", "slice", lambda t: t[:, -5:-1:2], [x], {"axis": 1, "start": -5, "end": -1, "step": 2})
    case("select", "select", lambda t: t.select(0, 2), [x], {"axis": 0, "index": 2})
    case("squeeze_unsqueeze", "unsqueeze", lambda t: t.unsqueeze(1), [r.randn(3, 4)], {"axis": 1})

    # --- joining / indexing ---
    case("cat_axis1", "cat", lambda a, b, c: torch.cat([a, b, c], dim=1), [r.randn(2, 2), r.randn(2, 3), r.randn(2, 1)],
         {"axis": 1})
    case("cat_axis0", "cat", lambda a, b: torch.cat([a, b], dim=0), [r.randn(1, 3, 2), r.randn(2, 3, 2)], {"axis": 0})
    case("stack_axis0", "stack", lambda a, b, c: torch.stack([a, b, c], dim=0), [r.randn(2, 3), r.randn(2, 3), r.randn(2, 3)],
         {"axis": 0})
    case("stack_axis_neg1", "stack", lambda a, b: torch.stack([a, b], dim=-1), [r.randn(2, 3), r.randn(2, 3)], {"axis": -1})

    x = r.randn(3, 5)
    idx = torch.tensor([[0, 4, 4, 1], [2, 2, 2, 2], [3, 0, 1, 3]])
    case("gather_axis1_repeats", "gather", lambda t, i: torch.gather(t, 1, i), [x, idx], {"axis": 1})
    idx0 = torch.tensor([[2, 0, 1, 1, 2], [0, 0, 2, 1, 1]])
    case("gather_axis0", "gather", lambda t, i: torch.gather(t, 0, i), [x, idx0], {"axis": 0})
    x3 = r.randn(2, 3, 4)
    idx3 = r.ints(0, 3, 2, 2, 4)
    case("gather_3d_axis1_smaller", "gather", lambda t, i: torch.gather(t, 1, i), [x3, idx3], {"axis": 1})

    idx = torch.tensor([[0, 4, 4, 1], [2, 2, 2, 2], [3, 0, 1, 3]])
    case("scatter_add_axis1_repeats", "scatter_add", lambda t, i, s: t.scatter_add(1, i, s), [r.randn(3, 5), idx, r.randn(3, 4)],
         {"axis": 1})
    idx0 = torch.tensor([[2, 0, 2], [0, 0, 1]])
    case("scatter_add_axis0", "scatter_add", lambda t, i, s: t.scatter_add(0, i, s), [r.randn(3, 3), idx0, r.randn(2, 3)],
         {"axis": 0})

    cond = r.ints(0, 2, 3, 4).to(torch.bool)
    case("where_same", "where", lambda c, a, b: torch.where(c, a, b), [cond, r.randn(3, 4), r.randn(3, 4)])
    cond = r.ints(0, 2, 3, 1).to(torch.bool)
    case("where_broadcast", "where", lambda c, a, b: torch.where(c, a, b), [cond, r.randn(3, 4), r.randn(4)])

    x = r.randn(4, 3)
    case("index_select_axis0", "index_select", lambda t, i: t.index_select(0, i), [x, torch.tensor([2, 0, 2, 3, 2])], {"axis": 0})
    case("index_select_axis1", "index_select", lambda t, i: t.index_select(1, i), [r.randn(2, 4, 3), torch.tensor([1, 1, 0])],
         {"axis": 1})
    case("one_hot", "one_hot", lambda i: F.one_hot(i, 4), [torch.tensor([[0, 3, 1], [2, 2, 0]])], {"classes": 4},
         differentiable=False)

    # index smaller than the tensor in a non-indexed dimension (allowed by torch.gather / scatter_add)
    case("gather_index_smaller_than_input", "gather", lambda t, i: torch.gather(t, 1, i),
         [r.randn(3, 5), torch.tensor([[4, 0, 4], [1, 1, 3]])], {"axis": 1})
    case("scatter_add_index_smaller_than_input", "scatter_add", lambda t, i, s: t.scatter_add(1, i, s),
         [r.randn(4, 5), torch.tensor([[4, 0, 4], [1, 1, 3]]), r.randn(2, 3)], {"axis": 1})

    # --- ops applied to non-contiguous views (strided kernels) ---
    x = r.randn(3, 4, 5)
    case("transpose_then_sum", "transpose_sum", lambda t: t.transpose(0, 2).sum(dim=(1,), keepdim=True), [x],
         {"dim0": 0, "dim1": 2, "axes": [1], "keepdim": True})
    case("transpose_then_amax", "transpose_amax", lambda t: t.transpose(0, 2).amax(dim=(0, 2)), [x],
         {"dim0": 0, "dim1": 2, "axes": [0, 2], "keepdim": False})
    case("transpose_then_softmax", "transpose_softmax", lambda t: torch.softmax(t.transpose(1, 2), dim=1), [x],
         {"dim0": 1, "dim1": 2, "axis": 1})
    case("slice_then_exp", "slice_exp", lambda t: torch.exp(t[:, :, 1:5:2]), [x], {"axis": 2, "start": 1, "end": 5, "step": 2})
    case("transpose_plus_tensor", "transpose_add", lambda a, b: a.t() + b, [r.randn(4, 3), r.randn(3, 4)])
    case("cat_of_transposed", "cat_transposed", lambda a, b: torch.cat([a.t(), b], dim=0), [r.randn(3, 2), r.randn(4, 3)],
         {"axis": 0})
    case("var_all_keepdim", "var", lambda t: t.var(dim=(0, 1, 2), keepdim=True), [x],
         {"axes": None, "keepdim": True, "correction": 1})

    # --- small compositions that exercise the chain rule across ops ---
    case("mse_composite", "mse", lambda p, t: ((p - t) ** 2).mean(), [r.randn(4, 3), r.randn(4, 3)])
    case("softplus_composite", "softplus_by_hand", lambda t: torch.log1p(torch.exp(t)), [r.randn(3, 4, scale=2.0)])
    x = r.randn(4, 5)
    case("layernorm_composite", "layernorm_by_hand",
         lambda t: (t - t.mean(dim=-1, keepdim=True)) / torch.sqrt(t.var(dim=-1, unbiased=False, keepdim=True) + 1e-5),
         [x], {"eps": 1e-5})


# ----------------------------------------------------------------------------------------------------------------
# networks

def linear_params(rng, fan_in, fan_out):
    # nn.Linear's default init, drawn from our own generator: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    bound = 1.0 / math.sqrt(fan_in)
    w = rng.uniform(-bound, bound, fan_out, fan_in)
    b = rng.uniform(-bound, bound, fan_out)
    return w, b


def build_networks():
    nets = []

    def net(name, arch, data, weights, loss_fn):
        ws = {k: v.detach().clone().requires_grad_(True) for k, v in weights.items()}
        loss = loss_fn(ws)
        names = list(ws.keys())
        grads = torch.autograd.grad(loss, [ws[k] for k in names])
        nets.append({
            "name": name, "arch": arch,
            "data": {k: enc_input(v, False) for k, v in data.items()},
            "weights": [dict(name=k, **enc_f32(ws[k])) for k in names],
            "loss": f64_number(loss.item()),
            "grads": [dict(name=k, **enc_f64(g)) for k, g in zip(names, grads)],
        })

    # 1) x[8,5] -> Linear(5,7) -> ReLU -> Linear(7,3) -> cross-entropy with class indices
    r = Rng(500)
    x = r.randn(8, 5)
    target = r.ints(0, 3, 8)
    w1, b1 = linear_params(r, 5, 7)
    w2, b2 = linear_params(r, 7, 3)
    net("mlp_relu_cross_entropy", "relu_ce", {"x": x, "target": target},
        {"w1": w1, "b1": b1, "w2": w2, "b2": b2},
        lambda p: F.cross_entropy(F.linear(torch.relu(F.linear(x, p["w1"], p["b1"])), p["w2"], p["b2"]), target))

    # 2) x[6,4] -> Linear(4,8) -> tanh -> Linear(8,2) -> MSE against y[6,2]
    r = Rng(501)
    x = r.randn(6, 4)
    y = r.randn(6, 2)
    w1, b1 = linear_params(r, 4, 8)
    w2, b2 = linear_params(r, 8, 2)
    net("mlp_tanh_mse", "tanh_mse", {"x": x, "y": y},
        {"w1": w1, "b1": b1, "w2": w2, "b2": b2},
        lambda p: F.mse_loss(F.linear(torch.tanh(F.linear(x, p["w1"], p["b1"])), p["w2"], p["b2"]), y))

    # 3) x[10,6] -> Linear(6,8) -> sigmoid -> Linear(8,5) -> sigmoid -> Linear(5,3) -> sigmoid -> binary cross-entropy
    r = Rng(502)
    x = r.randn(10, 6)
    y = r.ints(0, 2, 10, 3).to(torch.float64)
    w1, b1 = linear_params(r, 6, 8)
    w2, b2 = linear_params(r, 8, 5)
    w3, b3 = linear_params(r, 5, 3)

    def sig3(p):
        h = torch.sigmoid(F.linear(x, p["w1"], p["b1"]))
        h = torch.sigmoid(F.linear(h, p["w2"], p["b2"]))
        out = torch.sigmoid(F.linear(h, p["w3"], p["b3"]))
        return F.binary_cross_entropy(out, y)

    net("mlp_sigmoid3_bce", "sigmoid3_bce", {"x": x, "y": y},
        {"w1": w1, "b1": b1, "w2": w2, "b2": b2, "w3": w3, "b3": b3}, sig3)
    return nets


def write(path, obj):
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.write("\n")
    return len(text)


def main():
    torch.manual_seed(0)
    build_ops()
    nets = build_networks()
    os.makedirs(OUT_DIR, exist_ok=True)
    n1 = write(os.path.join(OUT_DIR, "ops.json"), CASES)
    n2 = write(os.path.join(OUT_DIR, "networks.json"), nets)
    print(f"torch {torch.__version__}: {len(CASES)} op cases ({n1} bytes), {len(nets)} networks ({n2} bytes)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
