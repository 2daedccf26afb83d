#!/usr/bin/env bash
# Writes src/Autograd.Fast.Tool/hot-methods.txt: the methods the tiny-graph workloads (W1-W4, W8) run
# every step, for the NativeAOT compiler to lay out together (IlcOrderFile, in the tool's and the
# instruction driver's project). Scattered over the 4 MB binary, the ~30 KiB of a step's code
# conflicts in some sets of the instruction cache and the branch predictors, and where it lands moves
# with every change: on this machine class a change of -30 instructions per step measured +30 ns.
# Laid out together, a step's time follows its instructions (bench/README.md). Nested by workload,
# smallest step code first (hot_methods.py): W1, W2 and W3 each fit the 64 KiB L1i.
#
#   bench/instructions/order.sh          # rerun after a change of the hot paths, commit the file
#
# A method of the file that no longer exists is ignored by the compiler; one that is new and hot is
# laid out with the rest of the binary until the file is written again. Needs valgrind and python3.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BUILD="${INSTR_BUILD:-/tmp/af-instructions}/order"
OUT="$ROOT/src/Autograd.Fast.Tool/hot-methods.txt"
export DOTNET_GCHeapHardLimit=20000000 # see run.sh: valgrind cannot map NativeAOT's default reservation

mkdir -p "$BUILD"
echo "[order] publishing the instruction driver against $ROOT" >&2
dotnet publish "$HERE/InstructionDriver.csproj" -c Release -r linux-x64 -p:LibRoot="$ROOT" -p:UseHotMethodOrder=false \
    --artifacts-path "$BUILD/artifacts" -o "$BUILD/driver" -nologo -v quiet >&2
rm -f "$BUILD/driver/InstructionDriver.dbg"
strip --strip-debug "$BUILD/driver/InstructionDriver"

args=()
for w in W1 W2 W3 W4 W8; do
    if [ "$w" = W3 ]; then few=5 many=55; else few=10 many=1010; fi
    for n in $few $many; do
        echo "[order] callgrind $w, $n steps" >&2
        valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$BUILD/$w.$n" \
            "$BUILD/driver/InstructionDriver" "$w" "$n" >/dev/null 2>&1
    done
    args+=("$few" "$many" "$BUILD/$w.$few-01" "$BUILD/$w.$many-01")
done
python3 "$HERE/hot_methods.py" autograd_fast_ "$OUT" "$BUILD/driver/InstructionDriver" "${args[@]}"
