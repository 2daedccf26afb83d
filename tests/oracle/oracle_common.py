"""What every oracle script shares: deterministic input values, how a tensor is written into a
fixture ({"dtype", "shape", "values"}, flat, row-major), running a case's Python, and recording the
error PyTorch raises. Imported by the scripts next to it (run them from any directory)."""

import json
import os

import torch

F32, F64 = torch.float32, torch.float64
DTYPE_NAMES = {F32: "float32", F64: "float64"}
BOTH = (F32, F64)


def make_values(gen, shape, domain):
    """Deterministic values in float64 for one input.

    any:  signed, |v| in [0.2, 1.6]   (relu, where and reciprocal stay away from 0)
    pos:  in [0.5, 2.0]               (log, fractional pow, divisors)
    """
    u = torch.rand(shape, generator=gen, dtype=F64)
    if domain == "pos":
        return 0.5 + 1.5 * u
    assert domain == "any", domain
    sign = torch.where(torch.rand(shape, generator=gen, dtype=F64) < 0.5, -1.0, 1.0)
    return sign * (0.2 + 1.4 * u)


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def described(t):
    return {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape), "values": flat(t)}


def grad_fn_name(t):
    return None if t.grad_fn is None else type(t.grad_fn).__name__


def run(python, env):
    """A case's Python: an expression's value, or a block's `out`."""
    code = python.strip()
    if "\n" not in code and not code.startswith("out ="):
        return eval(code, env)  # an expression
    exec(code, env)
    return env["out"]


def record_error(into, name, f, first_line=True):
    """Stores PyTorch's message for f() under name (its first line, unless first_line is False)."""
    try:
        f()
    except Exception as e:  # noqa: BLE001 - we record whatever PyTorch raises
        into[name] = str(e).split("\n")[0] if first_line else str(e)
        return
    raise AssertionError(f"{name}: PyTorch raised nothing")


def write_fixture(file_name, cases, errors):
    """Writes Fixtures/<file_name> next to the tests: {"torch", "cases" (one per line: readable diffs),
    "errors"}; case names must be unique. Returns the path."""
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    out_path = os.path.normpath(
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Autograd.Fast.Tests", "Fixtures", file_name)
    )
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as fh:
        fh.write('{"torch": ' + json.dumps(torch.__version__) + ',\n"cases": [\n')
        fh.write(",\n".join(json.dumps(c, allow_nan=False) for c in cases))
        fh.write('\n],\n"errors": ' + json.dumps(errors, indent=1) + "\n}\n")
    return out_path
