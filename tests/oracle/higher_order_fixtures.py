#!/usr/bin/python3
"""Oracle for second derivatives: records PyTorch's first gradients (with create_graph=True) and
Hessian-vector products.

Run with the system interpreter, which has PyTorch 1.13:

    /usr/bin/python3 tests/oracle/higher_order_fixtures.py

Writes tests/Autograd.Fast.Tests/Fixtures/higher_order.json:

    {
      "torch": "<version>",
      "cases": [{
        "name":       "<graph>.<dtype>"          unique case name
        "graph":      "<graph>"                  the C# builder in HigherOrderOracleTests.cs
        "python":     "x ** 5"                   the PyTorch code (an expression, or statements ending in `out = ...`)
        "inputs":     [{"name", "requires_grad", "dtype", "shape", "values"}]
        "output":     {"grad_fn", "dtype", "shape", "values"}
        "gradient":   null (0-d output: implicit ones) or {"dtype", "shape", "values"}   the upstream gradient u
        "grads":      {"x": {"grad_fn", "requires_grad", "dtype", "shape", "values"}, ...}
                          g_x = torch.autograd.grad(out, inputs, u, create_graph=True), one per input that requires grad
        "directions": {"x": {"dtype", "shape", "values"}, ...}   a random v_x per input that requires grad
        "hvp":        {"x": {"dtype", "shape", "values"} or null, ...}
                          d/dx of s = sum_i (g_i * v_i).sum(), by torch.autograd.grad(s, inputs, allow_unused=True)
                          (null where PyTorch returns None: x does not reach s)
      }],
      "errors": {scenario: PyTorch's message}   torch.autograd.grad's error paths, for HigherOrderTests.cs
    }

All values are flat, row-major. Inputs, u and v are deterministic (a torch.Generator seeded from
the case name) and inputs stay away from non-differentiable points (relu and where's condition at 0,
log and fractional powers of x <= 0). Every graph is non-linear in each input, so s requires grad.
"""

import json
import os
import zlib

import torch

from oracle_common import BOTH, DTYPE_NAMES, F32, F64, described, grad_fn_name, make_values, record_error, run, write_fixture


cases = []


def signed_unit(gen, shape, dtype):
    """Upstream gradients and directions: uniform in [-1, 1)."""
    return (2 * torch.rand(shape, generator=gen, dtype=F64) - 1).to(dtype)


def case(graph, python, inputs, dtypes=BOTH):
    """Records `graph` once per dtype.

    inputs: list of (name, shape, domain[, requires_grad]). The code sees the case's dtype as
    `dtype` and the other floating dtype as `other` (for conversions).
    """
    for dtype in dtypes:
        name = f"{graph}.{DTYPE_NAMES[dtype]}"
        gen = torch.Generator().manual_seed(zlib.crc32(name.encode()))
        env = {"torch": torch, "dtype": dtype, "other": F64 if dtype == F32 else F32}
        tensors = []
        for spec in inputs:
            iname, shape, domain = spec[0], spec[1], spec[2]
            requires_grad = spec[3] if len(spec) > 3 else True
            t = make_values(gen, shape, domain).to(dtype).requires_grad_(requires_grad)
            env[iname] = t
            tensors.append((iname, t))
        out = run(python, env)
        assert out.grad_fn is not None, name
        u = None if out.dim() == 0 else signed_unit(gen, out.shape, out.dtype)
        diff = [(n, t) for n, t in tensors if t.requires_grad]
        grads = torch.autograd.grad(out, [t for _, t in diff], u, create_graph=True)
        directions = [signed_unit(gen, t.shape, t.dtype) for _, t in diff]
        s = sum((g * v).sum() for g, v in zip(grads, directions))
        assert s.requires_grad, f"{name}: the first gradients do not depend on the inputs (a linear graph)"
        hvp = torch.autograd.grad(s, [t for _, t in diff], allow_unused=True)
        cases.append(
            {
                "name": name,
                "graph": graph,
                "python": python.strip(),
                "inputs": [{"name": n, "requires_grad": t.requires_grad, **described(t)} for n, t in tensors],
                "output": {"grad_fn": grad_fn_name(out), **described(out)},
                "gradient": None if u is None else described(u),
                "grads": {
                    n: {"grad_fn": grad_fn_name(g), "requires_grad": g.requires_grad, **described(g)}
                    for (n, _), g in zip(diff, grads)
                },
                "directions": {n: described(v) for (n, _), v in zip(diff, directions)},
                "hvp": {n: None if h is None else described(h) for (n, _), h in zip(diff, hvp)},
            }
        )


A, P = "any", "pos"

# ---- unary ----
case("pow_5", "x ** 5", [("x", (2, 3), A)])
case("pow_2", "x ** 2", [("x", (2, 3), A)])
case("pow_3", "x ** 3", [("x", (2, 3), A)])
case("pow_2_5", "x ** 2.5", [("x", (2, 3), P)])
case("pow_half", "x ** 0.5", [("x", (4,), P)])
case("pow_neg2", "x ** -2", [("x", (2, 3), P)])
case("reciprocal", "x.reciprocal()", [("x", (2, 3), A)])
case("exp", "x.exp()", [("x", (2, 3), A)])
case("exp_0d", "x.exp() * x", [("x", (), A)])
case("log", "x.log()", [("x", (2, 3), P)])
case("tanh", "x.tanh()", [("x", (2, 3), A)])
case("sigmoid", "x.sigmoid()", [("x", (2, 3), A)])
case("relu", "x.relu()", [("x", (3, 4), A)])
case("relu_times_x", "x.relu() * x", [("x", (3, 4), A)])
case("neg_exp", "(-x).exp() * y", [("x", (2, 3), A), ("y", (2, 3), A)])

# ---- binary, scalars, broadcasting ----
case("mul", "x * y", [("x", (2, 3), A), ("y", (2, 3), A)])
case("mul_same_leaf", "x * x * y", [("x", (2, 3), A), ("y", (2, 3), A)])
case("div", "x / y", [("x", (2, 3), A), ("y", (2, 3), P)])
case("div_broadcast", "x / y", [("x", (2, 3), A), ("y", (2, 1), P)])
case("mul_broadcast_row", "(x * y).tanh()", [("x", (2, 3), A), ("y", (3,), A)])
case("add_broadcast_cube", "((x + b) ** 3).sum()", [("x", (2, 3), A), ("b", (3,), A)])
case("sub_0d_square", "(x - y) ** 2", [("x", (2, 3), A), ("y", (), A)])
case("scalar_chain", "((x - 1.5) * 2.5 / 0.7 + 0.25) ** 3", [("x", (2, 3), A)])
case("rsub_rdiv", "(2 - x) * (3 / y)", [("x", (2, 3), A), ("y", (2, 3), P)])

# ---- reductions ----
case("sum_squared", "x.sum() ** 2", [("x", (2, 3), A)])
case("mean_cube", "(x ** 3).mean()", [("x", (2, 3), A)])
case("mean_times_x", "x.mean() * x", [("x", (5,), A)])
case("norm", "x.norm()", [("x", (2, 3), A)])
case("normalize", "x / x.norm()", [("x", (4,), A)])
case("variance", "((x - x.mean()) ** 2).mean()", [("x", (2, 3), A)])

# ---- dot, mm, mv, matmul ----
case("dot_tanh", "torch.dot(x, y).tanh()", [("x", (4,), A), ("y", (4,), A)])
case("mm_square_half", "(x.mm(w) ** 2).sum() / 2", [("x", (2, 3), A), ("w", (3, 4), A)])
case("mm_tanh", "x.mm(w).tanh()", [("x", (2, 3), A), ("w", (3, 2), A)])
case("mm_constant_weight", "x.mm(w).sigmoid()", [("x", (2, 3), A), ("w", (3, 2), A, False)])
case("mv_sigmoid", "torch.mv(x, y).sigmoid()", [("x", (2, 3), A), ("y", (3,), A)])
case("matmul_1d_2d_exp", "torch.matmul(x, w).exp()", [("x", (3,), A), ("w", (3, 2), A)])
case("mlp", "((x.mm(w1) + b1).tanh().mm(w2) + b2).pow(2).mean()",
     [("x", (4, 3), A, False), ("w1", (3, 5), A), ("b1", (5,), A), ("w2", (5, 2), A), ("b2", (2,), A)])

# ---- views ----
case("transpose_mul_exp", "(x.t() * y).exp()", [("x", (2, 3), A), ("y", (3, 2), A)])
case("transpose_dims_cube", "x.transpose(0, 1) ** 3", [("x", (2, 3), A)])
case("select_rows", "x[1] * x[0].exp()", [("x", (2, 3), A)])
case("select_dim1_square", "x.select(1, 2) ** 2 * y", [("x", (2, 3), A), ("y", (2,), A)])
case("slice_step_cube", "x[:, 0:4:2] ** 3", [("x", (2, 4), A)])
case("unsqueeze_expand_tanh", "(x.unsqueeze(0).expand(3, 3) * y).tanh()", [("x", (3,), A), ("y", (3, 3), A)])
case("expand_square", "(x.expand(3, 2) * y) ** 2", [("x", (1, 2), A), ("y", (3, 2), A)])
case("view_chain", "(x.t()[1].unsqueeze(0) * y).sigmoid()", [("x", (2, 3), A), ("y", (3, 1), A)])

# ---- copies and dtype conversion ----
case("clone_times_exp", "x.clone() * x.exp()", [("x", (2, 3), A)])
case("to_other_dtype_and_back", "(x.to(other) ** 3).to(dtype) * y", [("x", (2, 3), A), ("y", (2, 3), A)])
case("contiguous_of_transposed", "x.t().contiguous().tanh()", [("x", (2, 3), A)])
case("copy_into_zeros", """
out = torch.zeros(2, 3, dtype=x.dtype)
out.copy_(x.exp())
out = out * y
""", [("x", (3,), A), ("y", (2, 3), A)])

# ---- index assignment (CopySlices) ----
case("copyslices_powers", """
out = torch.zeros(3, 1, dtype=x.dtype)
out[0] = x ** 3
out[1] = x ** 2
""", [("x", (1,), A)])
case("copyslices_into_nonleaf_square", """
out = x * 2
out[1] = z.exp()
out = out ** 2
""", [("x", (3, 2), A), ("z", (2,), A)])
case("copyslices_slice_times_x", """
out = x ** 2
out[1:3] = z.tanh()
out = out * x
""", [("x", (4, 2), A), ("z", (2, 2), A)])

# ---- where ----
case("where", "torch.where(x > 0, x ** 3, y.exp())", [("x", (2, 3), A), ("y", (2, 3), A)])
case("where_broadcast", "torch.where(y > 0, x.sigmoid(), y ** 2)", [("x", (3,), A), ("y", (2, 3), A)])

# ---- composites: fan-out, loops ----
case("fanout", "x.exp() * x.tanh() + x / y", [("x", (2, 3), A), ("y", (2, 3), P)])
case("softplus", "(x.exp() + 1).log()", [("x", (2, 3), A)])
case("loop_mm_tanh", """
h = x
for _ in range(3):
    h = h.mm(w).tanh()
out = h.sum()
""", [("x", (2, 3), A), ("w", (3, 3), A)])


# ---- torch.autograd.grad's errors (HigherOrderTests compares the library's wording) ----
errors = {}


def leaf(*shape):
    return torch.ones(*shape, dtype=F64, requires_grad=True)


def unused_input():
    x, y = leaf(3), leaf(3)
    torch.autograd.grad((x * x).sum(), [x, y])


def input_without_grad():
    x = leaf(3)
    torch.autograd.grad((x * x).sum(), [torch.ones(3, dtype=F64)])


def implicit_non_scalar():
    x = leaf(2)
    torch.autograd.grad(x * 2, x)


def grad_output_shape():
    x = leaf(2)
    torch.autograd.grad(x * 2, x, torch.ones(3, dtype=F64))


def second_derivative_of_linear():
    x = leaf(3)
    (g,) = torch.autograd.grad((x * 2).sum(), x, create_graph=True)
    torch.autograd.grad(g.sum(), x)


def twice_without_retain():
    x = leaf(3)
    y = (x.tanh()).sum()
    torch.autograd.grad(y, x)
    torch.autograd.grad(y, x)


record_error(errors, "unused_input", unused_input)
record_error(errors, "input_without_grad", input_without_grad)
record_error(errors, "implicit_non_scalar", implicit_non_scalar)
record_error(errors, "grad_output_shape", grad_output_shape)
record_error(errors, "second_derivative_of_linear", second_derivative_of_linear)
record_error(errors, "twice_without_retain", twice_without_retain)

out_path = write_fixture("higher_order.json", cases, errors)
print(f"torch {torch.__version__}: wrote {len(cases)} cases ({len(set(c['graph'] for c in cases))} graphs) to {out_path}")
