#!/usr/bin/python3
"""Oracle for the autograd engine: records PyTorch's forward values and gradients.

Run with the system interpreter, which has PyTorch 1.13:

    /usr/bin/python3 tests/oracle/gradient_fixtures.py

Writes tests/Autograd.Fast.Tests/Fixtures/gradients.json, a list of cases:

    {
      "name":     "<graph>.<dtype>"          unique case name
      "graph":    "<graph>"                  the C# builder in OracleGradientTests.cs
      "python":   "x + y"                    the PyTorch code (an expression, or statements ending in `out = ...`)
      "inputs":   [{"name", "dtype", "shape", "requires_grad", "values"}]
      "output":   {"dtype", "shape", "grad_fn", "values"}
      "gradient": null (implicit, 0-d output) or {"dtype", "shape", "values"}
      "grads":    {"x": {"dtype", "shape", "values"} or null, ...}   .grad of each input after backward
    }

All values are flat, row-major. Inputs are deterministic (a torch.Generator seeded from the
case name) and stay away from non-differentiable points (relu at 0, log of x <= 0, ...).
"""

import json
import os
import sys
import zlib

import torch

from oracle_common import BOTH, DTYPE_NAMES, F32, F64, described, make_values, run


cases = []


def case(graph, python, inputs, dtypes=BOTH, gradient="auto"):
    """Records `graph` once per dtype.

    inputs: list of (name, shape, domain[, requires_grad[, fixed dtype]]); a fixed dtype makes
    mixed-precision cases (the case then runs once, as "<graph>.mixed").
    gradient: "auto" (implicit for 0-d outputs, random for the rest), or a float for an
    explicit gradient filled with that value.
    """
    mixed = any(len(spec) > 4 for spec in inputs)
    runs = [None] if mixed else dtypes
    for dtype in runs:
        name = f"{graph}.{'mixed' if mixed else DTYPE_NAMES[dtype]}"
        gen = torch.Generator().manual_seed(zlib.crc32(name.encode()))
        env = {"torch": torch}
        tensors = []
        for spec in inputs:
            iname, shape, domain = spec[0], spec[1], spec[2]
            requires_grad = spec[3] if len(spec) > 3 else True
            idtype = spec[4] if len(spec) > 4 else dtype
            t = make_values(gen, shape, domain).to(idtype).requires_grad_(requires_grad)
            env[iname] = t
            tensors.append((iname, t))
        out = run(python, env)
        assert out.grad_fn is not None, name
        if gradient == "auto" and out.dim() == 0:
            g = None
        elif gradient == "auto":
            g = (2 * torch.rand(out.shape, generator=gen, dtype=F64) - 1).to(out.dtype)
        else:
            g = torch.full(out.shape, gradient, dtype=out.dtype)
        out.backward(g)
        cases.append(
            {
                "name": name,
                "graph": graph,
                "python": python.strip(),
                "inputs": [
                    {"name": n, "requires_grad": t.requires_grad, **described(t)} for n, t in tensors
                ],
                "output": {"grad_fn": type(out.grad_fn).__name__, **described(out)},
                "gradient": None if g is None else described(g),
                "grads": {n: None if t.grad is None else described(t.grad) for n, t in tensors},
            }
        )


A, P = "any", "pos"

# ---- tensor-tensor arithmetic, with NumPy broadcasting ----
case("add_same", "x + y", [("x", (2, 3), A), ("y", (2, 3), A)])
case("add_row_broadcast", "x + y", [("x", (2, 3), A), ("y", (3,), A)])
case("add_leading_one", "x + y", [("x", (1,), A), ("y", (2, 3), A)])
case("add_0d_left", "x + y", [("x", (), A), ("y", (2, 3), A)])
case("add_0d_right", "x + y", [("x", (2, 3), A), ("y", (), A)])
case("add_both_broadcast", "x + y", [("x", (3, 1), A), ("y", (1, 4), A)])
case("add_constant", "x + y", [("x", (2, 3), A), ("y", (2, 3), A, False)])
case("sub_same", "x - y", [("x", (2, 3), A), ("y", (2, 3), A)])
case("sub_col_broadcast", "x - y", [("x", (2, 3), A), ("y", (2, 1), A)])
case("sub_0d_right", "x - y", [("x", (2, 3), A), ("y", (), A)])
case("sub_small_left", "x - y", [("x", (3,), A), ("y", (2, 3), A)])
case("mul_same", "x * y", [("x", (2, 3), A), ("y", (2, 3), A)])
case("mul_col_broadcast", "x * y", [("x", (2, 3), A), ("y", (2, 1), A)])
case("mul_row_left", "x * y", [("x", (3,), A), ("y", (2, 3), A)])
case("mul_0d_left", "x * y", [("x", (), A), ("y", (2, 3), A)])
case("mul_outer", "x * y", [("x", (3, 1), A), ("y", (1, 4), A)])
case("mul_3d_broadcast", "x * y", [("x", (2, 1, 3), A), ("y", (4, 1), A)])
case("mul_constant", "x * y", [("x", (2, 3), A), ("y", (3,), A, False)])
case("div_same", "x / y", [("x", (2, 3), A), ("y", (2, 3), P)])
case("div_row_broadcast", "x / y", [("x", (2, 3), A), ("y", (3,), P)])
case("div_col_broadcast", "x / y", [("x", (2, 3), A), ("y", (2, 1), P)])
case("div_0d_numerator", "x / y", [("x", (), A), ("y", (2, 3), P)])
case("div_0d_denominator", "x / y", [("x", (2, 3), A), ("y", (), P)])
case("div_0d_both", "x / y", [("x", (), A), ("y", (), P)])

# ---- with a Python scalar on either side ----
case("add_scalar_right", "x + 2.5", [("x", (2, 3), A)])
case("add_scalar_left", "2.5 + x", [("x", (2, 3), A)])
case("add_int_scalar", "x + 2", [("x", (4,), A)])
case("sub_scalar_right", "x - 1.5", [("x", (2, 3), A)])
case("rsub_int_scalar", "2 - x", [("x", (2, 3), A)])
case("rsub_float_scalar", "0.5 - x", [("x", (3,), A)])
case("mul_scalar_left", "3 * x", [("x", (2, 3), A)])
case("mul_scalar_right", "x * 3.14", [("x", (2, 3), A)])
case("div_int_scalar", "x / 4", [("x", (2, 3), A)])
case("div_float_scalar", "x / 0.3", [("x", (3,), A)])
case("rdiv_scalar", "2 / x", [("x", (2, 3), P)])
case("neg", "-x", [("x", (2, 3), A)])
case("neg_0d", "-x", [("x", (), A)])

# ---- unary ----
case("reciprocal", "x.reciprocal()", [("x", (2, 3), A)])
case("pow_2", "x ** 2", [("x", (2, 3), A)])
case("pow_3", "x ** 3", [("x", (2, 3), A)])
case("pow_half", "x ** 0.5", [("x", (2, 3), P)])
case("pow_2_5", "x ** 2.5", [("x", (2, 3), P)])
case("pow_neg1", "x ** -1", [("x", (2, 3), A)])
case("pow_neg2", "x ** -2", [("x", (2, 3), P)])
case("pow_1", "x ** 1", [("x", (3,), A)])
case("pow_0", "x ** 0", [("x", (3,), A)])
case("exp", "x.exp()", [("x", (2, 3), A)])
case("exp_0d", "x.exp()", [("x", (), A)])
case("log", "x.log()", [("x", (2, 3), P)])
case("tanh", "x.tanh()", [("x", (2, 3), A)])
case("sigmoid", "x.sigmoid()", [("x", (2, 3), A)])
case("relu", "x.relu()", [("x", (3, 4), A)])

# ---- reductions ----
case("sum_2d", "x.sum()", [("x", (2, 3), A)])
case("sum_0d", "x.sum()", [("x", (), A)])
case("sum_explicit_gradient", "x.sum()", [("x", (2, 3), A)], gradient=2.5)
case("mean_2d", "x.mean()", [("x", (2, 3), A)])
case("mean_1d", "x.mean()", [("x", (5,), A)])
case("norm_2d", "x.norm()", [("x", (2, 3), A)])
case("norm_1d", "x.norm()", [("x", (4,), A)])

# ---- dot, mm, mv, matmul ----
case("dot", "torch.dot(x, y)", [("x", (4,), A), ("y", (4,), A)])
case("dot_constant", "torch.dot(x, y)", [("x", (3,), A), ("y", (3,), A, False)])
case("dot_same_leaf", "torch.dot(x, x)", [("x", (3,), A)])
case("mm", "torch.mm(x, y)", [("x", (2, 3), A), ("y", (3, 4), A)])
case("mm_constant_weight", "x.mm(w)", [("x", (2, 3), A), ("w", (3, 2), A, False)])
case("mm_same_leaf", "x.mm(x)", [("x", (3, 3), A)])
case("mm_transposed_input", "x.t().mm(y)", [("x", (3, 2), A), ("y", (3, 4), A)])
case("mm_transposed_weight", "x.mm(w.t())", [("x", (2, 3), A), ("w", (4, 3), A)])
case("mv", "torch.mv(x, y)", [("x", (2, 3), A), ("y", (3,), A)])
case("mv_transposed", "torch.mv(x.t(), y)", [("x", (3, 2), A), ("y", (3,), A)])
case("matmul_1d_1d", "torch.matmul(x, y)", [("x", (3,), A), ("y", (3,), A)])
case("matmul_2d_2d", "torch.matmul(x, y)", [("x", (2, 3), A), ("y", (3, 2), A)])
case("matmul_2d_1d", "torch.matmul(x, y)", [("x", (2, 3), A), ("y", (3,), A)])
case("matmul_1d_2d", "torch.matmul(x, y)", [("x", (3,), A), ("y", (3, 2), A)])
case("linear_relu_sum", "(x.mm(w) + b).relu().sum()", [("x", (2, 3), A), ("w", (3, 4), A), ("b", (4,), A)])
case("mlp_two_layers", "torch.matmul(torch.matmul(x, w).tanh(), z).sigmoid().mean()",
     [("x", (4, 3), A), ("w", (3, 5), A), ("z", (5, 2), A)])

# ---- views ----
case("t_2d", "x.t()", [("x", (2, 3), A)])
case("t_2d_then_mul", "x.t() * y", [("x", (2, 3), A), ("y", (3, 2), A)])
case("t_1d", "x.t()", [("x", (3,), A)])
case("t_then_add_row", "x.t() + y", [("x", (2, 3), A), ("y", (2,), A)])
case("transpose_then_mul", "x.transpose(0, 1) * y", [("x", (2, 3), A), ("y", (3, 2), A)])
case("transpose_3d", "x.transpose(0, 2)", [("x", (2, 3, 4), A)])
case("transpose_negative_dims_exp", "x.transpose(-1, -2).exp()", [("x", (2, 3), A)])
case("select_index", "x[1]", [("x", (3, 2), A)])
case("select_negative_index", "x[-1] * 2", [("x", (3, 2), A)])
case("select_two_indices", "x[1, 2]", [("x", (2, 3), A)])
case("select_dim1", "x.select(1, 2)", [("x", (2, 3), A)])
case("select_rows_multiply", "x[0] * x[1]", [("x", (2, 3), A)])
case("slice_range", "x[1:3]", [("x", (4, 3), A)])
case("slice_step_dim1", "x[:, 0:4:2]", [("x", (2, 5), A)])
case("slice_step_dim0_exp", "x[0:5:2].exp()", [("x", (5, 2), A)])
case("slice_negative_bounds", "x[-3:-1]", [("x", (4,), A)])
case("slice_one_element_implicit", "x[1:2]", [("x", (3,), A)])
case("unsqueeze_0", "x.unsqueeze(0)", [("x", (2, 3), A)])
case("unsqueeze_last", "x.unsqueeze(-1)", [("x", (2, 3), A)])
case("unsqueeze_broadcast", "x.unsqueeze(1) * y", [("x", (3,), A), ("y", (4,), A)])
case("view_chain", "x.t()[1].unsqueeze(0) * y", [("x", (2, 3), A), ("y", (3, 1), A)])
case("strided_dot", "torch.dot(x.select(1, 0), y[0:6:2])", [("x", (3, 2), A), ("y", (6,), A)])

# ---- expand, copies, dtype conversion, copy_ ----
case("expand_row", "x.expand(3, 4) * y", [("x", (1, 4), A), ("y", (3, 4), A)])
case("expand_new_dims", "x.expand(2, 3, 2).tanh()", [("x", (3, 1), A)])
case("expand_as", "x.expand_as(y) * y", [("x", (2, 1), A), ("y", (3, 2, 2), A)])
case("clone", "x.clone() * x", [("x", (2, 3), A)])
case("contiguous_of_transposed", "x.t().contiguous().exp()", [("x", (2, 3), A)])
case("to_float64", "x.to(torch.float64) * y", [("x", (2, 3), A, True, F32), ("y", (2, 3), A, True, F64)])
case("to_float32", "x.to(torch.float32).exp()", [("x", (4,), A, True, F64)])
case("copy_into_zeros", """
out = torch.zeros(2, 3, dtype=x.dtype)
out.copy_(x.exp())
out = out * y
""", [("x", (3,), A), ("y", (2, 3), A)])
case("copy_over_history", """
out = x * 3
out.copy_(z.t())
out = out.sigmoid()
""", [("x", (2, 3), A), ("z", (3, 2), A)])
case("copy_cast", """
out = torch.zeros(3, dtype=torch.float32)
out.copy_(x)
out = out * 2
""", [("x", (3,), A, True, F64)])

# ---- index assignment (CopySlices) ----
case("copyslices_seed000", """
out = torch.zeros(3, 1, dtype=x.dtype)
out[0] = x[0] ** 2
out[1] = x[1] ** 3
out[2] = x[1] ** 4
""", [("x", (2,), A)])
case("copyslices_into_nonleaf", """
out = x * 2
out[1] = z.exp()
""", [("x", (3, 2), A), ("z", (2,), A)])
case("copyslices_slice", """
out = x + 1
out[1:3] = z
""", [("x", (4, 2), A), ("z", (2, 2), A)])
case("copyslices_two_indices", """
out = x * 1.0
out[0, 1] = z * 3
""", [("x", (2, 3), A), ("z", (), A)])
case("copyslices_broadcast_value", """
out = torch.zeros(2, 3, dtype=z.dtype)
out[1] = z
""", [("z", (), A)])
case("copyslices_value_leading_ones", """
out = torch.zeros(2, 3, dtype=x.dtype)
out[1] = x * 2
out = out * out
""", [("x", (1, 1, 3), A)])
case("copyslices_leading_one_into_0d", """
out = torch.zeros(1, dtype=x.dtype)
out[0] = x
""", [("x", (1,), A)])
case("copyslices_then_square", """
y = x + 0
y[0] = y[1] * 2
out = (y * y).sum()
""", [("x", (2, 3), A)])

# ---- chained graphs: fan-out, shared leaves, loops ----
case("fanout_square_plus", "x * x + x", [("x", (2, 3), A)])
case("fanout_exp_times_tanh", "x.exp() * x.tanh()", [("x", (2, 3), A)])
case("fanout_mul_plus_div", "x * y + x / y", [("x", (2, 3), A), ("y", (2, 3), P)])
case("leaf_two_paths", """
a = x * y
b = a + x
out = b * x.exp()
""", [("x", (2, 3), A), ("y", (3,), A)])
case("loop_mul_add", """
h = x
for _ in range(3):
    h = h * y + x
out = h
""", [("x", (2, 3), A), ("y", (2, 3), A)])
case("loop_mm_tanh", """
h = x
for _ in range(4):
    h = h.mm(w).tanh()
out = h.sum()
""", [("x", (2, 3), A), ("w", (3, 3), A)])
case("loop_doubling", """
y = x * 2
for _ in range(5):
    y = y * 2
out = y
""", [("x", (3,), A)])
case("sigmoid_derivative", "x.sigmoid() * (1 - x.sigmoid())", [("x", (2, 3), A)])
case("sum_times_tensor", "x.sum() * y", [("x", (2, 3), A), ("y", (2, 3), A)])
case("variance", "((x - x.mean()) ** 2).mean()", [("x", (2, 3), A)])
case("normalize", "x / x.norm()", [("x", (2, 3), A)])
case("softplus", "(x.exp() + 1).log()", [("x", (2, 3), A)])
case("reuse_output", """
y = x.exp()
out = (y * y).sum() + y.mean()
""", [("x", (2, 3), A)])
case("affine_chain", "((x + 1) * 2 - 3) / 4", [("x", (2, 3), A)])
case("constant_mix", "x * c + c", [("x", (2, 3), A), ("c", (2, 3), A, False)])
case("unused_input", "x * 2", [("x", (3,), A), ("y", (3,), A)])
case("neg_reciprocal_chain", "(-x).reciprocal().relu() + x.pow(2).sigmoid()", [("x", (2, 3), A)])

# ---- mixed float32 / float64: result promotes, each .grad keeps its input's dtype ----
case("mixed_mul", "x * y", [("x", (2, 3), A, True, F32), ("y", (2, 3), A, True, F64)])
case("mixed_add_broadcast", "x + y", [("x", (2, 3), A, True, F32), ("y", (3,), A, True, F64)])
case("mixed_div", "x / y", [("x", (2, 3), A, True, F64), ("y", (2, 3), P, True, F32)])
case("mixed_chain", "(x.exp() * y).sum()", [("x", (2, 3), A, True, F32), ("y", (2, 3), A, True, F64)])
case("mixed_0d_double_times_float", "x * y", [("x", (), A, True, F64), ("y", (2, 3), A, True, F32)])
case("mixed_0d_float_plus_double", "x + y", [("x", (), A, True, F32), ("y", (2, 3), A, True, F64)])

names = [c["name"] for c in cases]
assert len(names) == len(set(names)), "case names must be unique"

out_path = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Autograd.Fast.Tests", "Fixtures", "gradients.json")
)
os.makedirs(os.path.dirname(out_path), exist_ok=True)
# Cases already recorded keep their recorded values (PyTorch builds differ in the last bits of BLAS
# products); pass --fresh to record every case again.
if "--fresh" not in sys.argv and os.path.exists(out_path):
    with open(out_path, encoding="utf-8") as fh:
        recorded = {c["name"]: c for c in json.load(fh)}
    cases = [recorded.get(c["name"], c) for c in cases]
with open(out_path, "w", encoding="utf-8") as fh:
    # One case per line keeps diffs readable.
    fh.write("[\n")
    fh.write(",\n".join(json.dumps(c, allow_nan=False) for c in cases))
    fh.write("\n]\n")
print(f"torch {torch.__version__}: wrote {len(cases)} cases ({len(set(c['graph'] for c in cases))} graphs) to {out_path}")
