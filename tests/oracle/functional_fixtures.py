#!/usr/bin/python3
"""Oracle for torch.autograd.functional: records PyTorch's jacobian, hessian, vjp, jvp, hvp and vhp
of a few functions at points laid out in several ways.

Run with the system interpreter, which has PyTorch 1.13:

    /usr/bin/python3 tests/oracle/functional_fixtures.py

Writes tests/Autograd.Fast.Tests/Fixtures/functional.json:

    {
      "torch": "<version>",
      "cases": [{
        "name":     "<function>.<layout>.<dtype>"   unique case name
        "function": "<function>"                    the C# function in FunctionalTests.cs
        "python":   "x * x"                         the PyTorch code (an expression in x)
        "layout":   "contiguous" | "transposed" | "slice" | "vector" | "zero_d"
        "base":     {"dtype", "shape", "values"}    the tensor x is a view of (see LAYOUTS)
        "x":        {"dtype", "shape", "values"}    x itself, as the function sees it
        "u":        {...}                           vjp's v, shaped as f(x)
        "v":        {...}                           jvp's, hvp's and vhp's v, shaped as x
        "output":   f(x)
        "jacobian", "vjp", "jvp":  functional.jacobian(f, x), vjp(f, x, u)[1], jvp(f, x, v)[1]
        "hessian", "hvp", "vhp":   for one-element f(x) only (null otherwise)
      }],
      "errors": {scenario: PyTorch's message}   the transforms' error paths, for FunctionalTests.cs
    }

All values are flat, row-major. Points and vectors are deterministic (a torch.Generator seeded
from the case name); points stay in [0.2, 1.6] in absolute value.
"""

import json
import os
import zlib

import torch
import torch.autograd.functional as AF

from oracle_common import BOTH, DTYPE_NAMES, F64, described, make_values, record_error, write_fixture

# layout: (base shape, how x is made from the base)
LAYOUTS = {
    "contiguous": ((2, 3), lambda b: b),
    "transposed": ((3, 2), lambda b: b.t()),
    "slice": ((2, 5), lambda b: b[:, ::2]),
    "vector": ((4,), lambda b: b),
    "zero_d": ((), lambda b: b),
}

# function: the PyTorch expression in x (the C# twin is in FunctionalTests.Functions)
FUNCTIONS = {
    "square": "x * x",
    "exp_mul": "x.exp() * x",
    "tanh_times_sum": "x.tanh() * x.sum()",
    "normalize": "x / x.norm()",
    "cube_sum": "(x ** 3).sum()",
    "log_sum_exp": "x.exp().sum().log()",
    "norm_times_mean": "x.norm() * x.mean()",
    "sigmoid_dot": "(x.sigmoid() * x).sum()",
}

cases = []


def signed_unit(gen, shape, dtype):
    return (2 * torch.rand(shape, generator=gen, dtype=F64) - 1).to(dtype)


for function, python in FUNCTIONS.items():
    f = eval("lambda x: " + python)  # noqa: S307 - our own expressions
    for layout, (base_shape, make_x) in LAYOUTS.items():
        for dtype in BOTH:
            name = f"{function}.{layout}.{DTYPE_NAMES[dtype]}"
            gen = torch.Generator().manual_seed(zlib.crc32(name.encode()))
            base = make_values(gen, base_shape, "any").to(dtype)
            x = make_x(base)
            out = f(x)
            u = signed_unit(gen, out.shape, dtype)
            v = signed_unit(gen, x.shape, dtype)
            scalar = out.numel() == 1
            case = {
                "name": name,
                "function": function,
                "python": python,
                "layout": layout,
                "base": described(base),
                "x": described(x),
                "u": described(u),
                "v": described(v),
                "output": described(out),
                "jacobian": described(AF.jacobian(f, x)),
                "vjp": described(AF.vjp(f, x, u)[1]),
                "jvp": described(AF.jvp(f, x, v)[1]),
                "hessian": described(AF.hessian(f, x)) if scalar else None,
                "hvp": described(AF.hvp(f, x, v)[1]) if scalar else None,
                "vhp": described(AF.vhp(f, x, v)[1]) if scalar else None,
            }
            cases.append(case)

errors = {}
x3, v2 = torch.ones(3, dtype=F64), torch.ones(2, dtype=F64)
record_error(errors, "vjp_v_size", lambda: AF.vjp(lambda x: x * 2, x3, v2))
record_error(errors, "vjp_without_v", lambda: AF.vjp(lambda x: x * 2, x3))
record_error(errors, "jvp_v_size", lambda: AF.jvp(lambda x: x * 2, x3, v2))
record_error(errors, "hvp_v_size", lambda: AF.hvp(lambda x: (x * x).sum(), x3, v2))
record_error(errors, "vhp_v_size", lambda: AF.vhp(lambda x: (x * x).sum(), x3, v2))
record_error(errors, "hessian_not_single", lambda: AF.hessian(lambda x: x * x, x3))
record_error(errors, "hvp_not_single", lambda: AF.hvp(lambda x: x * x, x3, x3))
record_error(errors, "vhp_not_single", lambda: AF.vhp(lambda x: x * x, x3, x3))

out_path = write_fixture("functional.json", cases, errors)
print(f"torch {torch.__version__}: wrote {len(cases)} cases ({len(FUNCTIONS)} functions) to {out_path}")
