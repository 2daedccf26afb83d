#!/usr/bin/python3
"""Oracle for TensorFormatter: records PyTorch's exact repr(tensor) for many tensors.

Run with the system interpreter, which has PyTorch 1.13.1:

    /usr/bin/python3 tests/oracle/repr_fixtures.py

Writes tests/Autograd.Fast.Tests/Fixtures/repr.json, a list of cases:
    {"name", "dtype", "shape", "values", "grad_fn", "requires_grad", "repr"}
"values" is the flat row-major data; float specials that JSON cannot hold
are written as the strings "nan", "inf", "-inf" and "-0.0"; bools are 0/1.
"""

import json
import math
import os

import torch

torch.manual_seed(1234)
torch.set_printoptions(profile="default")

NAN = float("nan")
INF = float("inf")

DTYPE_NAMES = {
    torch.float32: "float32",
    torch.float64: "float64",
    torch.int64: "int64",
    torch.bool: "bool",
}

cases = []


def encode(value, dtype):
    if dtype == torch.bool:
        return 1 if value else 0
    if dtype == torch.int64:
        return int(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0.0 and math.copysign(1.0, value) < 0:
        return "-0.0"
    return value


def add(name, t):
    assert t.dtype in DTYPE_NAMES, (name, t.dtype)
    flat = t.detach().reshape(-1).tolist()
    cases.append(
        {
            "name": name,
            "dtype": DTYPE_NAMES[t.dtype],
            "shape": list(t.shape),
            "values": [encode(v, t.dtype) for v in flat],
            "grad_fn": None if t.grad_fn is None else type(t.grad_fn).__name__,
            "requires_grad": bool(t.requires_grad),
            "repr": repr(t),
        }
    )


f32 = torch.float32
f64 = torch.float64
i64 = torch.int64


def T(data, dtype=f32, requires_grad=False):
    return torch.tensor(data, dtype=dtype, requires_grad=requires_grad)


# ---- The strings quoted in our spec; each must come out exactly. ----
x = torch.arange(4.0)
add("spec arange4", x)
xg = torch.arange(4.0, requires_grad=True)
add("spec arange4 requires_grad", xg)
add("spec sum squares times 2", (xg * xg).sum() * 2)
add("spec times 4", x * 4)
add("spec bool all true", torch.ones(4, dtype=torch.bool))
add("spec scalar 26", T(26.0))
add("spec 5 35 11", T([5.0, 35.0, 11.0]))
a = T([2.0, 14.0, 4.0], requires_grad=True)
add("spec AddBackward0 squares", a * a + torch.zeros(3))
add("spec 8 56 -16", T([8.0, 56.0, -16.0]))
add("spec int64 row", T([[1, 7, -2]], dtype=i64))
add("spec int64 1x1", T([[54]], dtype=i64))
add("spec int64 scalar", T(54, dtype=i64))
add("spec AddBackward0 single", T([1.0], requires_grad=True) + 2)
m1 = T([[2.0, 3.0]], requires_grad=True)
add("spec MmBackward0", m1.mm(m1.detach().t()))
add("spec column", T([[1.0], [2.0]]))
add("spec 3.14 pair", T([3.14, 3.14]))
add("spec 31.4 314", T([31.4, 314.0]))
add("spec negative scalar MulBackward0", T(-112743.86, requires_grad=True) * 1)
add("spec bool scalar", T(True, dtype=torch.bool))
add("spec requires_grad 2.0867", T([2.0867], requires_grad=True))

SPEC_STRINGS = [
    "tensor([0., 1., 2., 3.])",
    "tensor([0., 1., 2., 3.], requires_grad=True)",
    "tensor(28., grad_fn=<MulBackward0>)",
    "tensor([ 0.,  4.,  8., 12.])",
    "tensor([True, True, True, True])",
    "tensor(26.)",
    "tensor([ 5., 35., 11.])",
    "tensor([  4., 196.,  16.], grad_fn=<AddBackward0>)",
    "tensor([  8.,  56., -16.])",
    "tensor([[ 1,  7, -2]])",
    "tensor([[54]])",
    "tensor(54)",
    "tensor([3.], grad_fn=<AddBackward0>)",
    "tensor([[13.]], grad_fn=<MmBackward0>)",
    "tensor([[1.],\n        [2.]])",
    "tensor([3.1400, 3.1400])",
    "tensor([ 31.4000, 314.0000])",
    "tensor(-112743.8594, grad_fn=<MulBackward0>)",
    "tensor(True)",
    "tensor([2.0867], requires_grad=True)",
]

# ---- 0-d tensors ----
add("0d float 3.5", T(3.5))
add("0d float zero", T(0.0))
add("0d float negative zero", T(-0.0))
add("0d float nan", T(NAN))
add("0d float -inf", T(-INF))
add("0d float tiny sci", T(1e-5))
add("0d float huge int sci", T(1e10))
add("0d float64", T(2.5, dtype=f64))
add("0d float64 third", T(1.0 / 3.0, dtype=f64))
add("0d requires_grad", T(1.5, requires_grad=True))
add("0d int64 negative", T(-3, dtype=i64))
add("0d bool false", T(False, dtype=torch.bool))
add("0d float64 SumBackward0", T([1.5, 2.25], dtype=f64, requires_grad=True).sum())

# ---- 1-D float32: fixed, int and scientific modes ----
add("1d randn 5", torch.randn(5))
add("1d negatives fixed", T([-1.5, 2.25, -300.125]))
add("1d int mode negatives", T([-1.0, 100.0, -1000.0]))
add("1d int mode ratio exactly 1000", T([1.0, 1000.0]))
add("1d int mode ratio 1001 sci", T([1.0, 1001.0]))
add("1d int mode 1e8 not sci", T([1e8, 2e7]))
add("1d int mode 2e8 sci", T([2e8, 1e8]))
add("1d fixed ratio over 1000 sci", T([0.5, 600.0]))
add("1d fixed min below 1e-4 sci", T([1e-5, 0.5]))
add("1d float32 1e-4 rounds below", T([1e-4, 0.5]))
add("1d float64 1e-4 exactly", T([1e-4, 0.5], dtype=f64))
add("1d fixed large 1e7", T([12345678.5, 1.5], dtype=f64))
add("1d sci large mixed", T([1.5e9, -2.25, 3.0]))
add("1d sci tiny", torch.randn(6) * 1e-6)
add("1d sci big randn", torch.randn(6) * 1e9)
add("1d half-even ties fixed", T([1.03125, 2.5, 0.59375]))
add("1d half-even ties sci", T([12345.5, 12344.5, 1e-5], dtype=f64))
add("1d sci three digit exponents", T([1e-300, 1.0, 1e300], dtype=f64))
add("1d float32 subnormal", T([1e-45, 1.0]))
add("1d rounding up to 10", T([9.99996, 0.5], dtype=f64))
add("1d sci rounding up exponent", T([9.99996e5, 1e-5], dtype=f64))

# ---- nan / inf / negative zero ----
add("nan only", T([NAN]))
add("nan inf -inf", T([NAN, INF, -INF]))
add("nan with ints", T([NAN, 1.0, 2.0]))
add("nan with fixed", T([NAN, 1.5, -2.25]))
add("inf with sci", T([INF, 1e-5, 1.0]))
add("-inf with big ints", T([-INF, 1e10, 3.0]))
add("nan 2d", T([[NAN, 1.0], [INF, 100.0]]))
add("negative zero 1d", T([-0.0]))
add("negative zero with int", T([-0.0, 1.0]))
add("negative zero with fixed", T([-0.0, 1.5]))
add("negative zero with sci", T([NAN, 1e10, -0.0]))
add("zeros", torch.zeros(3))
add("zeros and negative zeros 2d", T([[0.0, -0.0], [-0.0, 0.0]]))

# ---- wrapping of long rows at 80 columns ----
add("wrap arange 30", torch.arange(30.0))
add("wrap arange 100", torch.arange(100.0))
add("wrap randn 30", torch.randn(30))
add("wrap randn 50 float64", torch.randn(50, dtype=f64))
add("wrap sci 20", torch.randn(20) * 1e6)
add("wrap int64 100", torch.arange(100))
add("wrap int64 negatives", torch.randint(-100000, 100000, (40,)))
add("wrap bool 40", torch.rand(40) > 0.5)
add("wrap 2d rows 3x30", torch.randn(3, 30))
add("wrap 3d rows 2x2x25", torch.arange(100.0).reshape(2, 2, 25) - 50)
add("wrap nan in long row", torch.cat([torch.arange(20.0), T([NAN, INF])]))

# ---- 2-D, 3-D, 4-D ----
add("2d randn 3x4", torch.randn(3, 4))
add("2d int mode 2x3", T([[1.0, -20.0, 300.0], [4.0, 5.0, 6.0]]))
add("2d sci 3x3", torch.randn(3, 3) * 1e-5)
add("2d float64 2x2", torch.randn(2, 2, dtype=f64))
add("2d int64 3x3", torch.randint(-50, 500, (3, 3)))
add("2d bool 2x3", T([[True, False, True], [False, False, True]], dtype=torch.bool))
add("2d single row", torch.randn(1, 5))
add("2d single column", torch.randn(4, 1))
add("3d randn 2x3x4", torch.randn(2, 3, 4))
add("3d int64 2x2x2", torch.arange(8).reshape(2, 2, 2))
add("3d bool 2x1x2", T([[[True, False]], [[False, True]]], dtype=torch.bool))
add("3d float64 requires_grad", torch.randn(2, 2, 2, dtype=f64, requires_grad=True))
add("4d arange 2x2x2x2", torch.arange(16.0).reshape(2, 2, 2, 2))
add("4d randn 1x2x1x3", torch.randn(1, 2, 1, 3))

# ---- summarization (numel > 1000) ----
add("summ 1d arange 2000", torch.arange(2000.0))
add("summ 1d 1001 float64", torch.randn(1001, dtype=f64))
big = torch.full((2000,), 5.0)
big[1000] = 1e-7  # hidden in the middle: summarized away, so it must not force sci mode
add("summ hidden middle value", big)
add("summ 1d int64 1001", torch.arange(1001) * -7)
add("summ 1d bool 1001", torch.arange(1001) % 3 == 0)
add("summ 2d 40x40", torch.randn(40, 40))
add("summ 2d 1000x2", torch.randn(1000, 2))
add("summ 2d 2x600", torch.randn(2, 600))
add("summ 3d 11x11x11", torch.arange(1331.0).reshape(11, 11, 11))
add("summ 4d 7x7x7x7 int64", torch.arange(2401).reshape(7, 7, 7, 7))
edge = torch.randn(1500)
edge[0] = NAN
edge[-1] = -INF
add("summ nan inf at edges", edge)
add("summ requires_grad", torch.randn(30, 40, requires_grad=True))
add("summ float64 grad_fn", torch.randn(1200, dtype=f64, requires_grad=True) * 3)

# ---- empty tensors ----
add("empty 1d float32", torch.zeros(0))
add("empty 0x3 float32", torch.zeros(0, 3))
add("empty 2x0 float32", torch.zeros(2, 0))
add("empty 1d float64", torch.zeros(0, dtype=f64))
add("empty 1d int64", torch.zeros(0, dtype=i64))
add("empty 0x2 bool", torch.zeros(0, 2, dtype=torch.bool))
add("empty requires_grad", torch.zeros(0, requires_grad=True))
add("empty 3x0x2 float64 requires_grad", torch.zeros(3, 0, 2, dtype=f64, requires_grad=True))
add("empty int64 2x0", torch.zeros(2, 0, dtype=i64))

# ---- int64 and bool specifics ----
add("int64 extremes", T([-(2**63), 2**63 - 1, 0], dtype=i64))
add("int64 mixed widths", T([1, -10, 100, -1000], dtype=i64))
add("bool single false", T([False], dtype=torch.bool))

# ---- autograd suffixes ----
w = torch.randn(3, requires_grad=True)
add("grad_fn MulBackward0 vector", w * 2)
add("grad_fn SumBackward0", w.sum())
add("grad_fn float64 MulBackward0", torch.randn(3, dtype=f64, requires_grad=True) * 2)
add("grad_fn float64 2d", torch.randn(2, 3, dtype=f64, requires_grad=True).exp())
add("grad_fn MmBackward0 2x2", torch.randn(2, 3, requires_grad=True).mm(torch.randn(3, 2)))
add("requires_grad 2d", torch.randn(2, 3, requires_grad=True))

# Suffix placement: rows whose last line is near 80 columns push suffixes to new lines.
for n in range(1, 21):
    add(f"suffix float64 requires_grad n={n}", torch.randn(n, dtype=f64, requires_grad=True))
for n in (8, 9, 10, 12, 15):
    add(f"suffix float32 grad_fn n={n}", torch.randn(n, requires_grad=True) * 2)
add("suffix float64 line 79 chars", T([0.1234] * 9, dtype=f64, requires_grad=True) * 1)
add("suffix float32 line 79 chars", T([0.1234] * 9, requires_grad=True) * 1)

# ---- every spec string must appear exactly ----
reprs = [c["repr"] for c in cases]
missing = [s for s in SPEC_STRINGS if s not in reprs]
assert not missing, missing

names = [c["name"] for c in cases]
assert len(names) == len(set(names)), "case names must be unique"

out = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..",
    "Autograd.Fast.Tests",
    "Fixtures",
    "repr.json",
)
out = os.path.normpath(out)
os.makedirs(os.path.dirname(out), exist_ok=True)
with open(out, "w", encoding="utf-8") as fh:
    # One case per line keeps the file small and diffs readable.
    fh.write("[\n")
    fh.write(",\n".join(json.dumps(c, allow_nan=False) for c in cases))
    fh.write("\n]\n")
print(f"torch {torch.__version__}: wrote {len(cases)} cases to {out}")
