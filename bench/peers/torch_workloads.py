#!/usr/bin/env python3
"""W1-W8 of ../../shared/workloads.md ("Peer workloads, v1") in PyTorch eager (Python).

One JSON line per (workload, threads) on stdout, in workloads.md's format, impl "torch-python".

    /usr/bin/python3 bench/peers/torch_workloads.py --threads 1 --run 1 --variant default
    /usr/bin/python3 bench/peers/torch_workloads.py --threads 2 --run 1 --variant tuned
    /usr/bin/python3 bench/peers/torch_workloads.py --smoke          # check values only, PASS/FAIL

--threads 1 runs W1-W8; --threads 2 runs W5-W7 (the only multi-threaded workloads). The thread count
must be fixed before torch (and OpenBLAS) load, so one process runs one thread count: this script sets
OMP_NUM_THREADS and OPENBLAS_NUM_THREADS before `import torch` and calls torch.set_num_threads(n).
The variant's environment (OPENBLAS_CORETYPE, OMP_WAIT_POLICY, ATEN_CPU_CAPABILITY, GLIBC_TUNABLES)
is read at process start, so run.sh sets it; --variant only names it in the output.
"""

import argparse
import gc
import json
import math
import os
import sys
import time

# ---- arguments and threads: before torch is imported -------------------------------------------

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--threads", type=int, default=1, help="1 (W1-W8) or 2 (W5-W7)")
parser.add_argument("--run", default="1", help="run id recorded in the JSON lines")
parser.add_argument("--variant", default="default", help="variant name recorded in the JSON lines (default, passive, tuned)")
parser.add_argument("--only", default="", help="comma-separated workload ids, e.g. W5,W7")
parser.add_argument("--smoke", action="store_true", help="one check step per workload, compare with workloads.md, exit 1 on a mismatch")
ARGS = parser.parse_args()
if ARGS.threads < 1:
    sys.exit("--threads must be >= 1")
os.environ["OMP_NUM_THREADS"] = str(ARGS.threads)
os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(ARGS.threads)

IMPL = "torch-python"

# ---- data: the counter-based SplitMix64 generator of workloads.md ------------------------------


def sm64(seed, n):
    """Outputs 0..n-1 of SplitMix64 started at seed, as a uint64 array (numpy wraps mod 2^64)."""
    i = np.arange(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + (i + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def u01(seed, n):
    return (sm64(seed, n) >> np.uint64(40)).astype(np.float64) * (2.0 ** -24)


def uniform_np(seed, shape, lo, hi):
    n = math.prod(shape)
    return (lo + (hi - lo) * u01(seed, n)).astype(np.float32).reshape(shape)


def normal_np(seed, shape, std):
    n = math.prod(shape)
    u = u01(seed, 2 * n)
    return (std * np.sqrt(-2 * np.log(1 - u[0::2])) * np.cos(2 * np.pi * u[1::2])).astype(np.float32).reshape(shape)


def uniform(seed, shape, lo, hi):
    return torch.from_numpy(uniform_np(seed, shape, lo, hi))


def normal(seed, shape, std):
    return torch.from_numpy(normal_np(seed, shape, std))


# Input sums of workloads.md, (generator call) -> sum in double.
S32 = 1 / math.sqrt(32)
INPUT_SUMS = [
    ("W4 X", lambda: uniform_np(41, (1, 16), -1, 1), -2.074571132659912),
    ("W4 W1", lambda: uniform_np(42, (16, 32), -1 / 4, 1 / 4), 3.076010376214981),
    ("W4 b1", lambda: uniform_np(43, (32,), -1 / 4, 1 / 4), -0.22313329577445984),
    ("W4 W2", lambda: uniform_np(44, (32, 1), -S32, S32), 0.07223450252786279),
    ("W4 b2", lambda: uniform_np(45, (1,), -S32, S32), 0.1656091958284378),
    ("W5 X", lambda: uniform_np(51, (256, 64), -1, 1), -15.207106828689575),
    ("W5 Y", lambda: uniform_np(52, (256, 10), -1, 1), -15.812421798706055),
    ("W5 W1", lambda: uniform_np(53, (64, 256), -1 / 8, 1 / 8), 7.844932481646538),
    ("W5 b1", lambda: uniform_np(54, (256,), -1 / 8, 1 / 8), -2.3907638639211655),
    ("W5 W2", lambda: uniform_np(55, (256, 256), -1 / 16, 1 / 16), -5.6091044023633),
    ("W5 b2", lambda: uniform_np(56, (256,), -1 / 16, 1 / 16), -0.2314855232834816),
    ("W5 W3", lambda: uniform_np(57, (256, 10), -1 / 16, 1 / 16), -1.5584001392126083),
    ("W5 b3", lambda: uniform_np(58, (10,), -1 / 16, 1 / 16), -0.01659044623374939),
    ("W6 x", lambda: normal_np(61, (4194304,), 0.1), -169.38783074723253),
    ("W7 A", lambda: uniform_np(71, (1024, 1024), -1, 1), 623.8754879236221),
    ("W7 B", lambda: uniform_np(72, (1024, 1024), -1, 1), -250.69048857688904),
]


def verify_generator():
    """Fails loudly unless the generator reproduces workloads.md's reference values and input sums."""
    errors = []
    want = [0x118E846EA93BC949, 0x992FFAC69A7ACD4C, 0x1B9EC6EBBDA97281]
    got = [int(v) for v in sm64(41, 3)]
    if got != want:
        errors.append(f"sm64(41, 0..2) = {[hex(v) for v in got]}, expected {[hex(v) for v in want]}")
    if int(sm64(0, 1)[0]) != 0xE220A8397B1DCDAF:
        errors.append("sm64(0, 0) != 0xe220a8397b1dcdaf")
    got_u = uniform_np(41, (1, 16), -1, 1).reshape(-1)[:3].tolist()
    if got_u != [-0.8628382682800293, 0.1967766284942627, -0.784217119216919]:
        errors.append(f"uniform(41, (1,16), -1, 1)[0..2] = {got_u}")
    x6 = normal_np(61, (4194304,), 0.1)
    got_n = x6[:3].tolist()
    if got_n != [0.07410642504692078, 0.0503920316696167, -0.0904509648680687]:
        errors.append(f"normal(61, (4194304,), 0.1)[0..2] = {got_n}")
    for name, make, expected in INPUT_SUMS:
        values = x6 if name == "W6 x" else make()
        s = math.fsum(values.astype(np.float64).reshape(-1).tolist())
        if abs(s - expected) > 1e-12 * max(1.0, abs(expected)):
            errors.append(f"input sum {name} = {s!r}, expected {expected!r}")
    if errors:
        sys.exit("GENERATOR CHECK FAILED:\n  " + "\n  ".join(errors))


def gsum(t):
    """Sum of a float32 tensor's elements in double (a check value)."""
    return t.double().sum().item()


# ---- the workloads: 1:1 the reference code of workloads.md ---------------------------------------
# step(probe=False) is one user step; with probe=True it also returns the check values, taken after
# backward() and before zeroing (the only extra work is reading them).


class W1:
    id, name, nodes = "W1", "seed-poly", 7

    def setup(self):
        self.x = torch.tensor(3.0, requires_grad=True)
        self.u = torch.tensor(2.0, requires_grad=True)

    def step(self, probe=False):
        x, u = self.x, self.u
        y = 3 * x ** 2 + 4 * x + 2 * u * x
        y.backward()
        gx = x.grad.item(); gu = u.grad.item()
        check = {"y": y.item(), "x.grad": gx, "u.grad": gu} if probe else None
        x.grad.zero_(); u.grad.zero_()
        return check


class W2:
    id, name, nodes = "W2", "seed-dot", 2

    def setup(self):
        self.x = torch.arange(4, dtype=torch.float32).requires_grad_(True)

    def step(self, probe=False):
        x = self.x
        y = 2 * torch.dot(x, x)
        y.backward()
        g = x.grad.tolist()
        check = {"y": y.item(), **{f"x.grad[{i}]": v for i, v in enumerate(g)}} if probe else None
        x.grad.zero_()
        return check


class W3:
    id, name, nodes = "W3", "chain-1k", 1000

    def setup(self):
        self.x = torch.tensor(1.0, requires_grad=True)

    def step(self, probe=False):
        x = self.x
        y = x
        for _ in range(500):
            y = y * 1.0001 + 0.5
        y.backward()
        g = x.grad.item()
        check = {"y": y.item(), "x.grad": g} if probe else None
        x.grad.zero_()
        return check


class W4:
    id, name = "W4", "mlp-tiny"

    def setup(self):
        self.X = uniform(41, (1, 16), -1, 1)
        self.T = torch.full((1, 1), 0.5)
        self.W1 = uniform(42, (16, 32), -1 / 4, 1 / 4).requires_grad_(True)
        self.b1 = uniform(43, (32,), -1 / 4, 1 / 4).requires_grad_(True)
        self.W2 = uniform(44, (32, 1), -1 / math.sqrt(32), 1 / math.sqrt(32)).requires_grad_(True)
        self.b2 = uniform(45, (1,), -1 / math.sqrt(32), 1 / math.sqrt(32)).requires_grad_(True)
        self.params = [self.W1, self.b1, self.W2, self.b2]

    def step(self, probe=False):
        X, T, W1, b1, W2, b2, params = self.X, self.T, self.W1, self.b1, self.W2, self.b2, self.params
        h = torch.tanh(torch.mm(X, W1) + b1)
        out = torch.mm(h, W2) + b2
        loss = (out - T).pow(2).mean()
        loss.backward()
        lv = loss.item()
        check = {"loss": lv, "W1.grad.sum": gsum(W1.grad), "b1.grad.sum": gsum(b1.grad),
                 "W2.grad.sum": gsum(W2.grad), "b2.grad.sum": gsum(b2.grad)} if probe else None
        with torch.no_grad():
            for p in params:
                p.add_(p.grad, alpha=-0.01)
        for p in params:
            p.grad.zero_()
        return check


class W5:
    id, name, flops = "W5", "mlp-batch", 121_372_672

    def setup(self):
        self.X = uniform(51, (256, 64), -1, 1); self.Y = uniform(52, (256, 10), -1, 1)
        self.W1 = uniform(53, (64, 256), -1 / 8, 1 / 8).requires_grad_(True)
        self.b1 = uniform(54, (256,), -1 / 8, 1 / 8).requires_grad_(True)
        self.W2 = uniform(55, (256, 256), -1 / 16, 1 / 16).requires_grad_(True)
        self.b2 = uniform(56, (256,), -1 / 16, 1 / 16).requires_grad_(True)
        self.W3 = uniform(57, (256, 10), -1 / 16, 1 / 16).requires_grad_(True)
        self.b3 = uniform(58, (10,), -1 / 16, 1 / 16).requires_grad_(True)
        self.params = [self.W1, self.b1, self.W2, self.b2, self.W3, self.b3]

    def step(self, probe=False):
        X, Y, W1, b1, W2, b2, W3, b3, params = self.X, self.Y, self.W1, self.b1, self.W2, self.b2, self.W3, self.b3, self.params
        h1 = torch.relu(torch.mm(X, W1) + b1)
        h2 = torch.relu(torch.mm(h1, W2) + b2)
        out = torch.mm(h2, W3) + b3
        loss = (out - Y).pow(2).mean()
        loss.backward()
        lv = loss.item()
        check = {"loss": lv, **{f"{n}.grad.sum": gsum(p.grad) for n, p in zip(["W1", "b1", "W2", "b2", "W3", "b3"], params)}} if probe else None
        with torch.no_grad():
            for p in params:
                p.add_(p.grad, alpha=-0.01)
        for p in params:
            p.grad.zero_()
        return check


class W6:
    id, name, bytes_min = "W6", "elementwise-4M", 3 * 4_194_304 * 4

    def setup(self):
        N = 4_194_304
        self.x = normal(61, (N,), 0.1).requires_grad_(True)

    def step(self, probe=False):
        x = self.x
        y = (x * x).exp().sum()
        y.backward()
        check = {"y": y.item(), "x.grad.sum": gsum(x.grad)} if probe else None
        x.grad.zero_()
        return check


class W7:
    id, name, flops = "W7", "matmul-1024", 3 * 2 * 1024 ** 3

    def setup(self):
        self.A = uniform(71, (1024, 1024), -1, 1).requires_grad_(True)
        self.B = uniform(72, (1024, 1024), -1, 1).requires_grad_(True)

    def step(self, probe=False):
        A, B = self.A, self.B
        (A @ B).sum().backward()
        check = {"A.grad.sum": gsum(A.grad), "B.grad.sum": gsum(B.grad)} if probe else None
        A.grad.zero_(); B.grad.zero_()
        return check


class W8:
    id, name = "W8", "seed-loop"

    def setup(self):
        self.a = torch.tensor([0.7], requires_grad=True)

    def step(self, probe=False):
        a = self.a
        b = a * 2
        while b.norm() < 1000:
            b = b * 2
        c = b if b.sum() > 0 else 100 * b
        c.backward()
        g = a.grad.item()
        check = {"c": c.item(), "a.grad": g} if probe else None
        a.grad.zero_()
        return check


WORKLOADS = [W1, W2, W3, W4, W5, W6, W7, W8]
THREADED = {"W5", "W6", "W7"}

# ---- check values of workloads.md: key -> (expected, tolerance) ---------------------------------
# Tolerances: exact values get a few float32 roundings; the printed decimals get one unit of their
# last digit plus float32 noise; W5 (BLAS summation order, 7th digit) and W6 (y +-1, summation order
# over 4M terms) as workloads.md states; W7's sums of 1M GEMM outputs get 4e-6 relative.


def tol_rel(v, rel):
    return abs(v) * rel


EXPECTED = {
    "W1": {"y": (51.0, 1e-5), "x.grad": (26.0, 1e-5), "u.grad": (6.0, 1e-5)},
    "W2": {"y": (28.0, 1e-5), "x.grad[0]": (0.0, 1e-6), "x.grad[1]": (4.0, 1e-6), "x.grad[2]": (8.0, 1e-6), "x.grad[3]": (12.0, 1e-6)},
    "W3": {"y": (257.39468, 2e-4), "x.grad": (1.05127704, 2e-7)},  # torch-python's value; C++ differs (workloads.md)
    "W4": {"loss": (0.06571377, 5e-8), "W1.grad.sum": (0.0879058, 2e-7), "b1.grad.sum": (-0.0423730, 2e-7),
           "W2.grad.sum": (-0.9276710, 2e-7), "b2.grad.sum": (-0.5126939, 2e-7)},
    "W5": {"loss": (0.34711057, 0.34711057 * 1e-5), "W1.grad.sum": (-0.00632667, 1e-7), "b1.grad.sum": (0.0178568, 1e-6),
           "W2.grad.sum": (1.2958853, 1.2958853 * 1e-5), "b2.grad.sum": (0.0387852, 1e-6), "W3.grad.sum": (0.0423774, 1e-6),
           "b3.grad.sum": (0.00405241, 1e-7)},
    "W6": {"y": (4236907.0, 1.0), "x.grad.sum": (-347.8996, 347.8996 * 1e-5)},
    "W7": {"A.grad.sum": (-256707.17, 256707.17 * 4e-6), "B.grad.sum": (638848.43, 638848.43 * 4e-6)},
    "W8": {"c": (1433.6, 1433.6 * 1e-6), "a.grad": (2048.0, 1e-3)},
}


def check_failures(wid, check):
    failures = []
    for key, (expected, tol) in EXPECTED[wid].items():
        got = check.get(key)
        if got is None or not abs(got - expected) <= tol:
            failures.append(f"{key} = {got!r}, expected {expected!r} +- {tol:.3g}")
    return failures


# ---- timing method of workloads.md ---------------------------------------------------------------

WARMUP_NS, TARGET_NS, REPS = 300_000_000, 500_000_000, 5


def measure(cls):
    w = cls()
    w.setup()
    check = w.step(probe=True)              # 1. check step from fresh state
    w = cls()
    w.setup()                               #    then fresh state again for timing
    step = w.step
    n, t0 = 0, time.perf_counter_ns()       # 2. warm-up: >= 0.3 s and >= 3 steps
    while True:
        step()
        n += 1
        elapsed = time.perf_counter_ns() - t0
        if n >= 3 and elapsed >= WARMUP_NS:
            break
    iters = max(1, math.ceil(TARGET_NS / (elapsed / n)))   # 3.
    means = []
    for _ in range(REPS):
        gc.collect()
        gc.disable()
        t0 = time.perf_counter_ns()
        for _ in range(iters):
            step()
        t1 = time.perf_counter_ns()
        gc.enable()
        means.append((t1 - t0) / iters)
    means.sort()
    return check, means[REPS // 2], means[0], means[-1], iters


def environment():
    env = {k: os.environ.get(k, "") for k in ["OPENBLAS_CORETYPE", "OMP_WAIT_POLICY", "ATEN_CPU_CAPABILITY", "GLIBC_TUNABLES",
                                               "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"]}
    env["torch"] = torch.__version__
    env["torch_threads"] = torch.get_num_threads()
    try:
        import ctypes
        blas = ctypes.CDLL("libblas.so.3")
        blas.openblas_get_corename.restype = ctypes.c_char_p
        env["openblas_core"] = blas.openblas_get_corename().decode()
        env["openblas_threads"] = blas.openblas_get_num_threads()
    except (OSError, AttributeError):
        env["openblas_core"] = "unknown"
    return env


def line(cls, threads, check, median, lo, hi, iters, env):
    d = {"workload": cls.id, "name": cls.name, "impl": IMPL, "threads": threads, "run": str(ARGS.run), "variant": ARGS.variant,
         "median_ns": round(median, 1), "min_ns": round(lo, 1), "max_ns": round(hi, 1), "iters": iters, "reps": REPS}
    if hasattr(cls, "nodes"):
        d["ns_per_node"] = round(median / cls.nodes, 2)
    if hasattr(cls, "bytes_min"):
        d.update(bytes_min=cls.bytes_min, gbps=round(cls.bytes_min / median, 3), gbps_best=round(cls.bytes_min / lo, 3))
    if hasattr(cls, "flops"):
        d.update(flops=cls.flops, gflops=round(cls.flops / median, 3), gflops_best=round(cls.flops / lo, 3))
    d["check"] = check
    d["env"] = env
    return json.dumps(d)


def main():
    verify_generator()
    only = {s.strip().upper() for s in ARGS.only.split(",") if s.strip()}
    selected = [c for c in WORKLOADS if (not only or c.id in only) and (ARGS.threads == 1 or c.id in THREADED)]
    if ARGS.smoke:
        failed = 0
        for cls in selected:
            w = cls()
            w.setup()
            check = w.step(probe=True)
            failures = check_failures(cls.id, check)
            # W5 at 2 threads may differ in the 7th digit; its tolerance already allows it.
            print(f"{'PASS' if not failures else 'FAIL'} {cls.id} {cls.name} {IMPL} threads={ARGS.threads} {json.dumps(check)}")
            for f in failures:
                print("    " + f)
            failed += bool(failures)
        sys.exit(1 if failed else 0)
    env = environment()
    for cls in selected:
        check, median, lo, hi, iters = measure(cls)
        print(line(cls, ARGS.threads, check, median, lo, hi, iters, env), flush=True)


if __name__ == "__main__":
    main()
