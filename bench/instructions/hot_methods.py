#!/usr/bin/env python3
"""Combines callgrind profiles of the workloads into one method order for the NativeAOT compiler.

    hot_methods.py PREFIX OUT BINARY FEW_STEPS MANY_STEPS FEW.callgrind MANY.callgrind [FEW MANY STEPS...]...

BINARY is the profiled driver (its symbol table gives each method's size). Arguments after it come in
groups of four: a workload's step counts and its two callgrind files (the main thread's). A method's
cost per step is its self instructions in the longer run minus the shorter, divided by the difference
in steps: start-up and set-up cancel. Methods that run at least once per step, in any workload, are
written to OUT one per line, in nested blocks: the methods of the workload with the least step code
first, then those the next smallest adds, and so on. So each workload's step code spans no more than
its own and the smaller workloads' together, and the small ones (W3, W1, W2: 22-34 KiB) fit a 64 KiB
instruction cache without conflicts; listed by share alone, W2's spanned 75 KiB and five of its lines
shared one 4-way set. Within a block: methods more workloads share first, then by share of a step,
summed over the workloads. The driver's own methods (the workloads') are listed twice: renamed from its
assembly's prefix to PREFIX (the tool's), and as they are (the driver uses the file too)."""
import collections
import re
import subprocess
import sys

DRIVER_PREFIX = "InstructionDriver_"
# A compiled method's symbol is Assembly_Namespace_Type__Method (generic arguments in <>); the
# runtime's own code (RhpNewFast, the GC's C++) and libc's are not the compiler's to lay out.
MANAGED = re.compile(r"^[A-Za-z][^:\s]*__[^:\s]*$")


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


def method_sizes(binary):
    """Each function's size in bytes, from the symbol table (nm -S)."""
    out = subprocess.run(["nm", "-S", binary], capture_output=True, text=True, check=True).stdout
    sizes = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[2] in "tT":
            sizes[fields[3]] = int(fields[1], 16)
    return sizes


def main(argv):
    prefix, out, binary, groups = argv[1], argv[2], argv[3], argv[4:]
    if len(groups) == 0 or len(groups) % 4 != 0:
        sys.exit(__doc__)
    sizes = method_sizes(binary)
    users = collections.defaultdict(set)  # the workloads that run the method every step
    share = collections.Counter()         # its share of a step, summed over the workloads
    footprint = collections.Counter()     # per workload: bytes of the methods its step runs
    for i in range(0, len(groups), 4):
        workload = i // 4
        few, many = int(groups[i]), int(groups[i + 1])
        a, b = self_costs(groups[i + 2]), self_costs(groups[i + 3])
        per_step = {name: (b[name] - a.get(name, 0)) / (many - few) for name in b}
        step = sum(v for v in per_step.values() if v > 0)
        for name, v in per_step.items():
            if v >= 1 and MANAGED.match(name):
                users[name].add(workload)
                share[name] += v / step
                footprint[workload] += sizes.get(name, 0)
    rank = {w: r for r, w in enumerate(sorted(footprint, key=lambda w: (footprint[w], w)))}
    names = sorted(users, key=lambda n: (min(rank[w] for w in users[n]), -len(users[n]), -share[n], n))
    with open(out, "w") as f:
        for name in names:
            if name.startswith(DRIVER_PREFIX):  # a workload's method: as the tool names it, and as the driver does
                f.write(prefix + name[len(DRIVER_PREFIX):] + "\n")
            f.write(name + "\n")
    print(f"{len(names)} methods -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)
