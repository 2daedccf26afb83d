#!/usr/bin/python3
"""Oracle for in-place ops recorded by autograd: on non-leaves, on tensors that take a gradient only
from their source, on views of non-leaves (CopySlices), chained, under create_graph, and their errors.

Run with the system interpreter, which has PyTorch 1.13:

    /usr/bin/python3 tests/oracle/inplace_fixtures.py

Writes tests/Autograd.Fast.Tests/Fixtures/inplace.json:

    {
      "torch": "<version>",
      "cases": [{
        "name":     "<program>.<dtype>"
        "program":  "<program>"                the C# twin in InPlaceRecordingTests.cs
        "python":   the PyTorch code: statements that set `out`, and `names` (tensors whose grad_fn is checked)
        "second":   whether the gradients are second derivatives (see "grads")
        "inputs":   [{"name", "requires_grad", "dtype", "shape", "values"}]
        "output":   {"dtype", "shape", "values"}   out's values, after every in-place write
        "grad_fns": {"<name>": "MulBackward0" or null, ...}
        "grads":    {"<input>": {"dtype", "shape", "values"} or null}   after out.sum().backward() (or, with
                     "second": true, after grad(grad(out.sum(), a, create_graph=True)[0].sum(), a))
        "error":    PyTorch's message, where the program fails (then no output or grads)
      }]
    }
"""

import json
import os
import zlib

import torch

from oracle_common import BOTH, DTYPE_NAMES, described, grad_fn_name, make_values, run, write_fixture

cases = []

# name: shape, domain; every input requires grad unless listed in NO_GRAD
SHAPES = {"a": ((2, 3), "any"), "b": ((2, 3), "any"), "c": ((3,), "any"), "p": ((2, 3), "pos"), "s": ((), "pos")}


def case(program, python, inputs, no_grad=(), second=False):
    for dtype in BOTH:
        name = f"{program}.{DTYPE_NAMES[dtype]}"
        gen = torch.Generator().manual_seed(zlib.crc32(name.encode()))
        env = {"torch": torch, "dtype": dtype}
        specs = []
        for n in inputs:
            shape, domain = SHAPES[n]
            t = make_values(gen, shape, domain).to(dtype).requires_grad_(n not in no_grad)
            env[n] = t
            specs.append({"name": n, "requires_grad": n not in no_grad, **described(t)})
        entry = {"name": name, "program": program, "python": python.strip(), "second": second, "inputs": specs}
        try:
            out = run(python, env)
            entry["output"] = described(out)
            entry["grad_fns"] = {n: grad_fn_name(env[n]) for n in env.get("names", [])}
            leaves = [env[n] for n in inputs if n not in no_grad]
            if second:
                (g,) = torch.autograd.grad(out.sum(), leaves[0], create_graph=True)
                g.sum().backward()
            else:
                out.sum().backward()
            entry["grads"] = {n: None if env[n].grad is None else described(env[n].grad) for n in inputs if n not in no_grad}
        except RuntimeError as e:
            entry["error"] = str(e).split("\n")[0]
            entry.pop("output", None)
            entry.pop("grad_fns", None)
        cases.append(entry)


# ---- on a non-leaf: the tensor's grad_fn becomes the in-place op's ----
case("add_tensor", "y = a * 1\ny.add_(b)\nout = y * y\nnames = ['y']", "ab")
case("add_alpha", "y = a * 1\ny.add_(b, alpha=2.5)\nout = y * y\nnames = ['y']", "ab")
case("add_broadcast", "y = a * 1\ny.add_(c)\nout = y * y\nnames = ['y']", "ac")
case("add_0d", "y = a * 1\ny.add_(s)\nout = y * y\nnames = ['y']", "as")
case("add_scalar", "y = a * 1\ny.add_(1.5)\nout = y * y\nnames = ['y']", "a")
case("sub_tensor", "y = a * 1\ny.sub_(b)\nout = y * y\nnames = ['y']", "ab")
case("sub_scalar", "y = a * 1\ny.sub_(0.5)\nout = y * y\nnames = ['y']", "a")
case("mul_tensor", "y = a * 1\ny.mul_(b)\nout = y * y\nnames = ['y']", "ab")
case("mul_broadcast", "y = a * 1\ny.mul_(c)\nout = y * y\nnames = ['y']", "ac")
case("mul_transposed_source", "y = a * 1\ny.mul_(b.t().t())\nout = y * y\nnames = ['y']", "ab")
case("mul_scalar", "y = a * 1\ny.mul_(2.5)\nout = y * y\nnames = ['y']", "a")
case("div_tensor", "y = a * 1\ny.div_(p)\nout = y * y\nnames = ['y']", "ap")
case("div_scalar", "y = a * 1\ny.div_(4.0)\nout = y * y\nnames = ['y']", "a")
case("pow_scalar", "y = p * 1\ny.pow_(3)\nout = y * 2\nnames = ['y']", "p")
case("pow_fractional", "y = p * 1\ny.pow_(0.5)\nout = y * y * y\nnames = ['y']", "p")
case("zero", "y = a * 1\ny.zero_()\nout = y + b\nnames = ['y']", "ab")
case("fill", "y = a * 1\ny.fill_(2.0)\nout = y * b\nnames = ['y']", "ab")
case("copy", "y = a * 1\ny.copy_(b)\nout = y * y\nnames = ['y']", "ab")
case("chain", "y = a * 1\ny.mul_(2).add_(b).pow_(2)\nout = y * 1\nnames = ['y']", "ab")
case("strided_target", "y = (a * 1).t()\ny.mul_(b.t())\nout = y * y\nnames = ['y']", "ab")
# ---- a tensor without history that takes one from its source ----
case("target_without_grad", "y = torch.zeros(2, 3, dtype=dtype)\ny.add_(a)\ny.mul_(b)\nout = y * y\nnames = ['y']", "ab")
case("source_without_grad", "y = a * 1\ny.mul_(b)\nout = y * y\nnames = ['y']", "ab", no_grad="b")
# ---- saved values and the version counter ----
case("saved_input_modified", "y = a * 1\nz = y * b\ny.mul_(2)\nout = z\nnames = ['y']", "ab")
case("saved_result_modified", "y = a.exp()\ny.mul_(2)\nout = y\nnames = ['y']", "a")
case("mul_self", "y = a * 1\ny.mul_(y)\nout = y\nnames = ['y']", "a")
case("mul_self_copy_is_fine", "y = a * 1\ny.mul_(y.clone())\nout = y\nnames = ['y']", "a")
case("modified_after_tanh_input", "y = a * 1\nz = y.tanh()\ny.add_(1)\nout = z + y\nnames = ['y', 'z']", "a")
# ---- views of non-leaves: the base's history is rewritten (CopySlices) ----
case("view_select", "y = a * 1\nv = y[0]\nv.mul_(2)\nout = y * y\nnames = ['y', 'v']", "a")
case("view_select_source", "y = a * 1\nv = y[1]\nv.mul_(c)\nout = y * y\nnames = ['y', 'v']", "ac")
case("view_slice", "y = a * 1\nv = y[:, 1:]\nv.add_(b[:, 1:])\nout = y * y\nnames = ['y', 'v']", "ab")
case("view_transposed", "y = a * 1\nv = y.t()\nv.mul_(b.t())\nout = y * y\nnames = ['y', 'v']", "ab")
case("view_used_after", "y = a * 1\nv = y[0]\nv.mul_(2)\nout = v * v\nnames = ['y', 'v']", "a")
case("view_of_view", "y = a * 1\nv = y.t()[1]\nv.mul_(c[:2])\nout = y * y\nnames = ['y', 'v']", "ac")
case("view_base_without_grad", "y = torch.zeros(2, 3, dtype=dtype)\nv = y[0]\nv.add_(c)\nout = y * y\nnames = ['y', 'v']", "c")
case("view_div_scalar", "y = a * 1\nv = y[:, 0]\nv.div_(4.0)\nout = y * y\nnames = ['y', 'v']", "a")
case("other_view_after_write", "y = a * 1\nu = y[0]\nv = y[0]\nv.mul_(2)\nout = u * 3\nnames = ['y', 'u', 'v']", "a")
case("view_after_base_write", "y = a * 1\nv = y[1]\ny.mul_(2)\nout = v * v\nnames = ['y', 'v']", "a")
case("view_after_base_write_through_other_view", "y = a * 1\nv = y.t()\ny[0].add_(c)\nout = v * v\nnames = ['y', 'v']", "ac")
# ---- second derivatives through in-place ops ----
case("second_mul", "y = a * 1\ny.mul_(a)\nout = y * y\nnames = ['y']", "a", second=True)
case("second_view", "y = a * 1\ny[0].mul_(a[1])\nout = y * y * y\nnames = ['y']", "a", second=True)

errors = {}


def leaf_error(f):
    try:
        f()
    except RuntimeError as e:
        return str(e).split("\n")[0]
    raise AssertionError("no error")


leaf = torch.ones(3, requires_grad=True)
errors["leaf_mul"] = leaf_error(lambda: leaf.mul_(2))
errors["leaf_view_mul"] = leaf_error(lambda: leaf[0].mul_(2))

path = write_fixture("inplace.json", cases, errors)
print(f"torch {torch.__version__}: wrote {len(cases)} cases to {path}")
