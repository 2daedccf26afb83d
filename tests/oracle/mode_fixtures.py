#!/usr/bin/python3
"""Oracle for grad modes, inference mode, detach_ / requires_grad_ and anomaly mode: PyTorch 1.13's
state inside every nesting of up to three modes, and its error messages.

Run with the system interpreter, which has PyTorch 1.13:

    /usr/bin/python3 tests/oracle/mode_fixtures.py

Writes tests/Autograd.Fast.Tests/Fixtures/modes.json:
    {"nesting": {"a>b>c": {"grad": torch.is_grad_enabled(), "inference": torch.is_inference_mode_enabled(),
                          "records": (x * 2).requires_grad, "made_inference": torch.ones(1).is_inference()}},
     "messages": {scenario: PyTorch's message},
     "anomaly": {scenario: the backward node PyTorch names, and the output index}}
GradModeTests.cs, DetachTests.cs and AnomalyModeTests.cs rebuild each scenario in C#.
"""

import contextlib
import itertools
import json
import os
import re
import warnings

import torch

from oracle_common import record_error

warnings.simplefilter("ignore")

MODES = {
    "no_grad": torch.no_grad,
    "enable_grad": torch.enable_grad,
    "set_grad_enabled_false": lambda: torch.set_grad_enabled(False),
    "set_grad_enabled_true": lambda: torch.set_grad_enabled(True),
    "inference_mode": lambda: torch.inference_mode(True),
    "inference_mode_false": lambda: torch.inference_mode(False),
}

x = torch.ones(2, requires_grad=True)


def state():
    return {
        "grad": torch.is_grad_enabled(),
        "inference": torch.is_inference_mode_enabled(),
        "records": (x * 2).requires_grad,
        "made_inference": torch.ones(1).is_inference(),
    }


nesting = {}
for depth in (1, 2, 3):
    for names in itertools.product(MODES, repeat=depth):
        with contextlib.ExitStack() as stack:
            for n in names:
                stack.enter_context(MODES[n]())
            nesting[">".join(names)] = state()
        assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()

# the plain setter inside a scope: the scope's end restores what was before the scope
for outer in ("no_grad", "enable_grad", "inference_mode"):
    for value in (False, True):
        with MODES[outer]():
            torch.set_grad_enabled(value)
            inside = state()
        nesting[f"{outer}+setter_{str(value).lower()}"] = inside
        nesting[f"{outer}+setter_{str(value).lower()}+after"] = state()

messages = {}


with torch.inference_mode():
    inf = torch.ones(3)
leaf = torch.ones(3, requires_grad=True)


def no_grad_add_():
    with torch.no_grad():
        inf.add_(1)


def index_assign():
    inf[0] = 5.0


record_error(messages, "inference_saved_mul", lambda: inf * leaf, first_line=False)
record_error(messages, "inference_saved_inplace_mul", lambda: (leaf * 1).mul_(inf), first_line=False)
record_error(messages, "inference_inplace", lambda: inf.add_(1), first_line=False)
record_error(messages, "inference_inplace_no_grad", no_grad_add_, first_line=False)
record_error(messages, "inference_inplace_copy", lambda: inf.copy_(leaf), first_line=False)
record_error(messages, "inference_index_assign", index_assign, first_line=False)
record_error(messages, "inference_requires_grad", lambda: inf.requires_grad_(), first_line=False)

nonleaf = leaf * 2
record_error(messages, "requires_grad_false_nonleaf", lambda: nonleaf.requires_grad_(False), first_line=False)
record_error(messages, "detach_view", lambda: leaf[0:2].detach_(), first_line=False)

# anomaly: which node and which output PyTorch names (our message adds the forward call site)
anomaly = {}


def anomaly_case(name, build):
    with torch.autograd.detect_anomaly():
        try:
            build().backward()
        except RuntimeError as e:
            m = re.match(r"Function '(\w+)' returned nan values in its (\d+)th output\.", str(e))
            assert m, str(e)
            anomaly[name] = {"node": m.group(1), "output": int(m.group(2)), "message": str(e)}
            return
    raise AssertionError(f"{name}: no anomaly")


def mul_by_inf():
    a = torch.tensor([0.0, 1.0], requires_grad=True)
    return (a * torch.tensor([float("inf"), 1.0]) * 0.0).sum()


def div_self():
    a = torch.tensor([0.0, 1.0], requires_grad=True)
    return (a / a).sum()


def log_of_zero_times_zero():
    a = torch.tensor([0.0, 2.0], dtype=torch.float64, requires_grad=True)
    return (a.log() * torch.tensor([0.0, 1.0], dtype=torch.float64)).sum()


anomaly_case("mul_by_inf", mul_by_inf)
anomaly_case("div_self", div_self)
anomaly_case("log_of_zero", log_of_zero_times_zero)

out = os.path.join(os.path.dirname(__file__), "..", "Autograd.Fast.Tests", "Fixtures", "modes.json")
with open(out, "w") as f:
    json.dump({"nesting": nesting, "messages": messages, "anomaly": anomaly}, f, indent=1, sort_keys=True)
    f.write("\n")
print(f"{len(nesting)} nestings, {len(messages)} messages, {len(anomaly)} anomaly cases -> {out}")
