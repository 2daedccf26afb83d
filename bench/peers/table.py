#!/usr/bin/env python3
"""Side-by-side table of the peer workloads' JSON lines (shared/workloads.md's format).

    python3 bench/peers/table.py results/2026-11-21.jsonl      # or: ... | python3 bench/peers/table.py
    python3 bench/peers/table.py --versus results/NAME.jsonl   # lines of run.sh versus REV

Reads JSON lines (other lines are ignored) from the files given, or stdin. For each workload and
thread count it shows our median ("csharp"), the best peer line (the impl/variant with the lowest
median, whatever its variant) and the ratio peer / ours: how many times faster we are (< 1: slower).
Each line is run at least twice (run.sh all); a (workload, impl, variant, threads) uses its best run,
i.e. the lowest median over runs, for ours and for the peers alike. Then the check values of each impl
side by side. Standard library only.

With --versus: the lines of `run.sh versus REV`, our library at revision REV (variants "aot-REV",
"jit-REV") and at this tree ("aot", "jit"). Per workload, thread count and variant, each side's
best median over the turns and the ratio this tree / REV (< 1: this tree is faster).
"""

import json
import sys
from collections import defaultdict

OURS = "csharp"
PEERS = ["torch-python", "libtorch-cpp"]


def read_lines(paths):
    rows = []
    streams = [open(p, encoding="utf-8") for p in paths] if paths else [sys.stdin]
    for stream in streams:
        for text in stream:
            text = text.strip()
            if not text.startswith("{"):
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError:
                continue
            if "workload" in row and "median_ns" in row:
                rows.append(row)
    return rows


def fmt_time(ns):
    if ns is None:
        return "-"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}" if ns / scale < 100 else f"{ns / scale:.0f} {unit}"
    return f"{ns:.0f} ns"


def rate(row, nodes_ok=True):
    """The derived rate of workloads.md for a line: GFLOP/s (W5, W7), GB/s (W6), ns/node (W1-W3)."""
    if row is None:
        return ""
    if "gflops" in row:
        return f"{row['gflops']:.1f} GFLOP/s"
    if "gbps" in row:
        return f"{row['gbps']:.2f} GB/s"
    if "ns_per_node" in row and nodes_ok:
        return f"{row['ns_per_node']:.0f} ns/node"
    return ""


def fmt_value(v):
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.9g}" if isinstance(v, (int, float)) else str(v)


def render(rows):
    out = []
    # best run per (workload, threads, impl, variant)
    best = {}
    runs = defaultdict(set)
    names = {}
    for r in rows:
        key = (r["workload"], int(r["threads"]), r["impl"], r.get("variant", "default"))
        runs[key].add(str(r.get("run", "")))
        names[r["workload"]] = r.get("name", "")
        if key not in best or r["median_ns"] < best[key]["median_ns"]:
            best[key] = r
    cases = sorted({(k[0], k[1]) for k in best}, key=lambda c: (int(c[0][1:]) if c[0][1:].isdigit() else 99, c[1]))

    # Our own variants (aot: the NativeAOT tool, jit: the same code on the installed .NET runtime) each
    # get a column; the comparison uses our best line, as it uses the peers' best line.
    our_variants = sorted({k[3] for k in best if k[2] == OURS})
    header = ["workload", "thr", "csharp", "rate", "best peer", "median", "rate", "peer/ours", "torch-python best", "libtorch-cpp best"] \
        + [f"csharp {v}" for v in our_variants]
    table = []
    for wid, threads in cases:
        our_rows = [best[k] for k in best if k[:3] == (wid, threads, OURS)]
        ours = min(our_rows, key=lambda r: r["median_ns"]) if our_rows else None
        peer_rows = [best[k] for k in best if k[0] == wid and k[1] == threads and k[2] in PEERS]
        top = min(peer_rows, key=lambda r: r["median_ns"]) if peer_rows else None
        per_impl = []
        for impl in PEERS:
            rs = [best[k] for k in best if k[:3] == (wid, threads, impl)]
            b = min(rs, key=lambda r: r["median_ns"]) if rs else None
            per_impl.append(f"{fmt_time(b['median_ns'])} ({b.get('variant', '')})" if b else "-")
        ratio = f"{top['median_ns'] / ours['median_ns']:.2f}x" if ours and top else "-"
        per_variant = []
        for v in our_variants:
            b = best.get((wid, threads, OURS, v))
            per_variant.append(fmt_time(b["median_ns"]) if b else "-")
        table.append([f"{wid} {names.get(wid, '')}", str(threads),
                      f"{fmt_time(ours['median_ns'])} ({ours.get('variant', '')})" if ours else "-", rate(ours),
                      f"{top['impl']}/{top.get('variant', '')}" if top else "-", fmt_time(top["median_ns"]) if top else "-", rate(top),
                      ratio] + per_impl + per_variant)
    widths = [max(len(header[i]), *(len(row[i]) for row in table)) if table else len(header[i]) for i in range(len(header))]
    line = lambda cells: "  ".join(c.ljust(w) if i in (0, 4, 8, 9) else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    nruns = sorted({len(v) for v in runs.values()})
    out.append(f"Peer workloads (shared/workloads.md): median per step, best of {'/'.join(map(str, nruns))} run(s) per line; "
               f"peer/ours > 1 means csharp is faster.")
    out.append("")
    out.append(line(header))
    out.append(line(["-" * w for w in widths]))
    for row in table:
        out.append(line(row))

    # check values side by side
    out.append("")
    out.append("Check values (after backward, before zeroing; one check step from fresh state per line). "
               "A value differing between an impl's lines (threads, variants, runs) is shown as first [min .. max].")
    checks = defaultdict(lambda: defaultdict(list))   # (wid) -> (key, impl) -> values
    keys = defaultdict(list)
    for r in sorted(rows, key=lambda r: (int(r["threads"]), r.get("variant", "") != "default", str(r.get("run", "")))):
        for k, v in (r.get("check") or {}).items():
            if k not in keys[r["workload"]]:
                keys[r["workload"]].append(k)
            checks[r["workload"]][(k, r["impl"])].append(v)
    impls = [OURS] + PEERS
    cheader = ["workload", "check"] + impls
    crows = []
    for wid in sorted(keys, key=lambda w: int(w[1:]) if w[1:].isdigit() else 99):
        for k in keys[wid]:
            cells = [f"{wid} {names.get(wid, '')}", k]
            for impl in impls:
                vs = checks[wid].get((k, impl), [])
                if not vs:
                    cells.append("-")
                elif len(set(vs)) == 1:
                    cells.append(fmt_value(vs[0]))
                else:
                    cells.append(f"{fmt_value(vs[0])} [{fmt_value(min(vs))} .. {fmt_value(max(vs))}]")
            crows.append(cells)
    cw = [max(len(cheader[i]), *(len(r[i]) for r in crows)) if crows else len(cheader[i]) for i in range(len(cheader))]
    out.append("")
    out.append("  ".join(c.ljust(w) for c, w in zip(cheader, cw)))
    out.append("  ".join("-" * w for w in cw))
    for r in crows:
        out.append("  ".join(c.ljust(w) for c, w in zip(r, cw)))

    # environments
    out.append("")
    out.append("Environments (per impl and variant, from its first line):")
    seen = set()
    for r in rows:
        key = (r["impl"], r.get("variant", "default"), int(r["threads"]))
        if key in seen:
            continue
        seen.add(key)
        env = r.get("env") or {}
        shown = {k: v for k, v in env.items() if v not in ("", None)}
        out.append(f"  {r['impl']}/{key[1]} threads={key[2]}: {json.dumps(shown)}")
    return "\n".join(out)


def render_versus(rows):
    best = {}    # (workload, threads, variant, side) -> lowest median over the turns
    revs = set()
    for r in rows:
        if r.get("impl") != OURS:
            continue
        variant, _, rev = r["variant"].partition("-")
        side = rev or "this tree"
        if rev:
            revs.add(rev)
        key = (r["workload"], r["threads"], variant, side)
        best[key] = min(best.get(key, float("inf")), r["median_ns"])
    if len(revs) != 1:
        sys.exit(f"table.py --versus: expected the lines of one revision against this tree, found revisions {sorted(revs)}")
    rev = revs.pop()
    out = [f"Median per step, best over the turns: {rev} against this tree (ratio < 1: this tree is faster).", ""]
    out.append(f"{'workload':<9}{'thr':>4}  {'variant':<8}{rev:>12}{'this tree':>12}{'ratio':>8}")
    for workload, threads, variant in sorted({k[:3] for k in best}):
        before, after = best.get((workload, threads, variant, rev)), best.get((workload, threads, variant, "this tree"))
        if before is None or after is None:
            continue
        out.append(f"{workload:<9}{threads:>4}  {variant:<8}{fmt_time(before):>12}{fmt_time(after):>12}{after / before:>7.2f}x")
    return "\n".join(out)


def main():
    args = sys.argv[1:]
    versus = "--versus" in args
    rows = read_lines([a for a in args if a != "--versus"])
    if not rows:
        sys.exit("table.py: no JSON lines found")
    print(render_versus(rows) if versus else render(rows))


if __name__ == "__main__":
    main()
