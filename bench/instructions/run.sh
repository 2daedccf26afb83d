#!/usr/bin/env bash
# Instructions per step of the NativeAOT workloads W1-W4 and W8, counted by callgrind: repeatable to a
# few instructions whatever else the machine is doing, where wall-clock times on these VMs move by up
# to 2x. For comparing revisions of the engine (a change's cost), not for comparing with the peers
# (instructions are not time: a cache miss or a divide costs more than an add).
#
#   bench/instructions/run.sh                 # this working tree
#   bench/instructions/run.sh b96914a HEAD .  # revisions (each checked out into a temporary worktree) and trees
#   INSTR_ICACHE=1 bench/instructions/run.sh  # also instruction-cache misses per step (slower)
#   INSTR_TIME=1 bench/instructions/run.sh b96914a .   # wall-clock instead: ns per step, interleaved
#
# With INSTR_ICACHE=1 callgrind simulates this machine class's caches (AMD Zen 3: L1i 32 KiB 8-way,
# L1d 48 KiB 12-way, 64-byte lines), which the tiny graphs' time follows more than their instructions
# (their hot code is ~30 KiB: set conflicts in the L1i cost more than a few percent of instructions).
#
# With INSTR_TIME=1 there is no callgrind: each driver runs 40 batches of a workload in one process and
# prints its fastest batch's ns per step; the trees take turns, INSTR_ROUNDS times (default 7), and each
# line gives the best and the median of the rounds. On these shared VMs a whole process's time moves by
# tens of percent; the best batch, interleaved, compares two revisions to a few percent.
#
# One JSON line per (tree, workload) on stdout: {"tree":..,"rev":..,"workload":"W1","instructions_per_step":N}
# (with INSTR_TIME=1: "ns_per_step_best":B,"ns_per_step_median":M).
# Needs valgrind (Debian's package) and the .NET SDK. Builds go to $INSTR_BUILD (default /tmp/af-instructions).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BUILD="${INSTR_BUILD:-/tmp/af-instructions}"
WORKLOADS=(W1 W2 W3 W4 W8)
# The NativeAOT GC reserves 256 GiB of address space at start-up, more than valgrind can map: a 512 MiB
# heap limit (hex, as the runtime reads it) makes the reservation fit. The workloads use a few MiB.
export DOTNET_GCHeapHardLimit=20000000

log() { echo "[instructions $(date +%T)] $*" >&2; }

[ -n "${INSTR_TIME:-}" ] || command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }

publish() {   # $1: tree, $2: output directory
    local art="$2.artifacts"
    dotnet publish "$HERE/InstructionDriver.csproj" -c Release -r linux-x64 -p:LibRoot="$1" \
        --artifacts-path "$art" -o "$2" -nologo -v quiet >&2
    # valgrind cannot read the DWARF NativeAOT writes; the symbol table stays, for callgrind_annotate.
    rm -f "$2/InstructionDriver.dbg"
    strip --strip-debug "$2/InstructionDriver"
}

CACHE_SIM=()
[ -n "${INSTR_ICACHE:-}" ] && CACHE_SIM=(--cache-sim=yes --I1=32768,8,64 --D1=49152,12,64 --LL=33554432,16,64)

count() {   # $1: binary, $2: workload, $3: steps -> instructions of the main thread [and its I1 misses]
    # The main thread's count alone: the runtime's finalizer thread calibrates its spin-wait at start-up
    # against the clock, a few hundred thousand instructions that vary with the machine's load.
    local out="$BUILD/callgrind.$$"
    valgrind --tool=callgrind --separate-threads=yes "${CACHE_SIM[@]}" --callgrind-out-file="$out" "$1" "$2" "$3" >/dev/null 2>&1
    # totals: Ir (Dr Dw I1mr ... with the cache simulation)
    sed -n 's/^totals: //p' "$out-01" | awk '{ print $1, ($4 == "" ? 0 : $4) }'
    rm -f "$out" "$out"-*
}

trees=("$@")
[ ${#trees[@]} -eq 0 ] && trees=("$ROOT")
mkdir -p "$BUILD"
drivers=() revs=() dirs=()
for t in "${trees[@]}"; do
    if [ -d "$t" ]; then
        tree="$(cd "$t" && pwd)"
        rev="$(git -C "$tree" rev-parse --short HEAD)$(git -C "$tree" diff --quiet HEAD -- src 2>/dev/null || echo +changes)"
    else
        rev="$(git -C "$ROOT" rev-parse --short "$t")"
        tree="$BUILD/tree-$rev"
        [ -d "$tree" ] || git -C "$ROOT" worktree add --detach "$tree" "$rev" >&2
    fi
    out="$BUILD/driver-$(echo "$tree" | md5sum | cut -c1-8)"
    log "publishing the driver against $tree ($rev)"
    publish "$tree" "$out"
    drivers+=("$out/InstructionDriver") revs+=("$rev") dirs+=("$tree")
done

if [ -n "${INSTR_TIME:-}" ]; then
    rounds="${INSTR_ROUNDS:-7}"
    for w in "${WORKLOADS[@]}"; do
        # a batch of about 10 ms
        case $w in W1) n=5000 ;; W2) n=10000 ;; W3) n=50 ;; *) n=2000 ;; esac
        declare -A times=()
        for r in $(seq "$rounds"); do
            for i in "${!drivers[@]}"; do times[$i]+="$("${drivers[$i]}" "$w" "$n" 40) "; done
        done
        for i in "${!drivers[@]}"; do
            read -r best median <<< "$(echo ${times[$i]} | tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END {print a[1], a[int((NR+1)/2)]}')"
            echo "{\"tree\":\"${dirs[$i]}\",\"rev\":\"${revs[$i]}\",\"workload\":\"$w\",\"ns_per_step_best\":$best,\"ns_per_step_median\":$median}"
        done
        unset times
    done
    exit 0
fi

for i in "${!drivers[@]}"; do
    for w in "${WORKLOADS[@]}"; do
        # W3 is 1000 nodes a step: fewer steps give the same precision.
        if [ "$w" = W3 ]; then few=5 many=55; else few=10 many=1010; fi
        a=$(count "${drivers[$i]}" "$w" "$few")
        b=$(count "${drivers[$i]}" "$w" "$many")
        [ -n "$a" ] && [ -n "$b" ] || { echo "callgrind did not report a count for $w on ${dirs[$i]}" >&2; exit 1; }
        read -r ia ma <<< "$a"
        read -r ib mb <<< "$b"
        icache=""
        [ -n "${INSTR_ICACHE:-}" ] && icache=",\"icache_misses_per_step\":$(( (mb - ma) / (many - few) ))"
        echo "{\"tree\":\"${dirs[$i]}\",\"rev\":\"${revs[$i]}\",\"workload\":\"$w\",\"instructions_per_step\":$(( (ib - ia) / (many - few) ))$icache}"
    done
done
