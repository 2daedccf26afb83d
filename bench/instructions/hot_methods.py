#!/usr/bin/env python3
"""Combines callgrind profiles of the workloads into one method order for the NativeAOT compiler.

    hot_methods.py PREFIX OUT FEW_STEPS MANY_STEPS FEW.callgrind MANY.callgrind [FEW MANY STEPS...]...

Arguments after OUT come in groups of four: a workload's step counts and its two callgrind files (the
main thread's). A method's cost per step is its self instructions in the longer run minus the shorter,
divided by the difference in steps: start-up and set-up cancel. Methods that run at least once per
step, in any workload, are written to OUT one per line: those that more workloads share first (the
engine, the recorder, the pool), then by their share of a step, summed over the workloads. The
driver's own methods (the workloads') are listed twice: renamed from its assembly's prefix to PREFIX
(the tool's), and as they are (the driver uses the file too)."""
import collections
import re
import subprocess
import sys

DRIVER_PREFIX = "InstructionDriver_"
# A compiled method's symbol is Assembly_Namespace_Type__Method; the runtime's own code (RhpNewFast,
# the GC's C++) and libc's are not the compiler's to lay out.
MANAGED = re.compile(r"^[A-Za-z][A-Za-z0-9_]*__[^:\s]*$")


def self_costs(path):
    out = subprocess.run(["callgrind_annotate", "--threshold=100", "--inclusive=no", "--show=Ir", path],
                         capture_output=True, text=True, check=True).stdout
    costs = {}
    for line in out.splitlines():
        m = re.match(r"\s*([0-9,]+)\s+\([^)]*\)\s+(\S+)", line)
        if m and m.group(2) != "PROGRAM":
            name = m.group(2).split(":", 1)[-1]  # "???:symbol"
            costs[name] = costs.get(name, 0) + int(m.group(1).replace(",", ""))
    return costs


def main(argv):
    prefix, out, groups = argv[1], argv[2], argv[3:]
    if len(groups) == 0 or len(groups) % 4 != 0:
        sys.exit(__doc__)
    workloads = collections.Counter()  # how many workloads run the method every step
    share = collections.Counter()      # its share of a step, summed over the workloads
    for i in range(0, len(groups), 4):
        few, many = int(groups[i]), int(groups[i + 1])
        a, b = self_costs(groups[i + 2]), self_costs(groups[i + 3])
        per_step = {name: (b[name] - a.get(name, 0)) / (many - few) for name in b}
        step = sum(v for v in per_step.values() if v > 0)
        for name, v in per_step.items():
            if v >= 1 and MANAGED.match(name):
                workloads[name] += 1
                share[name] += v / step
    names = sorted(workloads, key=lambda n: (-workloads[n], -share[n], n))
    with open(out, "w") as f:
        for name in names:
            if name.startswith(DRIVER_PREFIX):  # a workload's method: as the tool names it, and as the driver does
                f.write(prefix + name[len(DRIVER_PREFIX):] + "\n")
            f.write(name + "\n")
    print(f"{len(names)} methods -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)
