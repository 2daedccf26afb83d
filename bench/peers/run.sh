#!/usr/bin/env bash
# The peer workloads W1-W8 of shared/workloads.md, side by side:
#
#   bench/peers/run.sh csharp      # the library, variants aot (NativeAOT tool) and jit (same tool on the
#                                  # installed .NET runtime): JSON lines on stdout
#   bench/peers/run.sh torch       # PyTorch (Python), variants default/passive/tuned: JSON lines
#   bench/peers/run.sh libtorch    # LibTorch (C++), variants default/passive/tuned: JSON lines
#   bench/peers/run.sh all [--save results/NAME]
#                                  # all three, twice, interleaved; the JSON lines, then table.py's table
#                                  # (--save: also writes NAME.jsonl and NAME.txt, relative to bench/peers)
#   bench/peers/run.sh smoke       # CI: one check step per workload in every impl, PASS/FAIL, no timing
#   bench/peers/run.sh versus REV [--save results/NAME]
#                                  # the library at revision REV against this tree, both published the
#                                  # same way, taking turns PEERS_RUNS times (default 3; PEERS_ONLY=W1,W2
#                                  # limits the workloads); the JSON lines, then table.py --versus
#
# W1-W4 and W8 run at 1 thread, W5-W7 at 1 and 2. Prerequisites: bench/peers/install.sh (Debian's
# python3-torch, libtorch-dev, libopenblas0-pthread, cmake, g++) and the .NET SDK. Builds go to
# bench/peers/build/ (ignored by git; PEERS_BUILD overrides), progress and build logs to stderr.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BUILD="${PEERS_BUILD:-$HERE/build}"
PY=/usr/bin/python3
RUNS="${PEERS_RUNS:-2}"
VARIANTS=(default passive tuned)

log() { echo "[peers $(date +%T)] $*" >&2; }

# ---- builds -------------------------------------------------------------------------------------

build_csharp() {   # [$1: source tree (default this one), $2: build directory (default $BUILD)]
    local ROOT="${1:-$ROOT}" BUILD="${2:-$BUILD}"
    log "publishing the tool of $ROOT with NativeAOT -> $BUILD/csharp"
    # A private artifacts path: other builds of the repository may be running at the same time.
    # IlcInstructionSet: NativeAOT compiles for a baseline x86-64 (SSE4.2: Vector<T> 16 bytes, no
    # Vector256/512) unless told otherwise, while torch dispatches to AVX2/AVX-512 at run time and the JIT
    # uses the machine's ISA. "native" targets this machine's (AVX-512 here); PEERS_ILC_ISA="" gives the
    # plain baseline publish. The JSON's env shows the result (vector512, vector_bytes).
    local isa=()
    if [ -n "${PEERS_ILC_ISA-native}" ]; then isa=("-p:IlcInstructionSet=${PEERS_ILC_ISA-native}"); fi
    dotnet publish "$ROOT/src/Autograd.Fast.Tool" -c Release -r linux-x64 "${isa[@]}" \
        --artifacts-path "$BUILD/dotnet-artifacts" -o "$BUILD/csharp" -nologo -v quiet >&2
    test -x "$BUILD/csharp/autograd-fast"
    # The jit variant: the same tool, framework-dependent, on the newest installed .NET runtime (the
    # tool rolls forward), where tiered PGO compiles the hot paths for what they actually see.
    log "building the tool for the JIT -> $BUILD/csharp-jit"
    dotnet build "$ROOT/src/Autograd.Fast.Tool" -c Release \
        --artifacts-path "$BUILD/dotnet-artifacts-jit" -o "$BUILD/csharp-jit" -nologo -v quiet >&2
    test -f "$BUILD/csharp-jit/autograd-fast.dll"
}

build_libtorch() {
    log "building the LibTorch peer -> $BUILD/libtorch"
    cmake -S "$HERE/libtorch" -B "$BUILD/libtorch" -DCMAKE_BUILD_TYPE=Release >&2
    cmake --build "$BUILD/libtorch" -j2 >&2
    test -x "$BUILD/libtorch/peers-libtorch"
}

# ---- variants (workloads.md's table) -----------------------------------------------------------
# Each variant's environment is set explicitly, whatever this shell inherited:
#   default: OPENBLAS_CORETYPE=Haswell (what the project's machines inherit), spinning libgomp, AVX2 ATen
#   passive: default + OMP_WAIT_POLICY=PASSIVE
#   tuned:   OPENBLAS_CORETYPE unset (auto-detected kernels), ATEN_CPU_CAPABILITY=avx512 (avx2 without AVX-512),
#            OMP_WAIT_POLICY=PASSIVE, GLIBC_TUNABLES=glibc.malloc.mmap_threshold=...:trim_threshold=...
# The widest ATen kernels this CPU runs: avx512 where the CPU has it, else avx2 (forcing avx512 on an
# AVX2-only CPU, e.g. an AMD EPYC of this machine class, dies with an illegal instruction).
if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then ATEN_WIDEST=avx512; else ATEN_WIDEST=avx2; fi

variant_env() {
    local clear=(-u OPENBLAS_CORETYPE -u OMP_WAIT_POLICY -u ATEN_CPU_CAPABILITY -u GLIBC_TUNABLES -u OMP_NUM_THREADS -u OPENBLAS_NUM_THREADS)
    case "$1" in
        default) echo "${clear[*]} OPENBLAS_CORETYPE=Haswell" ;;
        passive) echo "${clear[*]} OPENBLAS_CORETYPE=Haswell OMP_WAIT_POLICY=PASSIVE" ;;
        tuned) echo "${clear[*]} ATEN_CPU_CAPABILITY=$ATEN_WIDEST OMP_WAIT_POLICY=PASSIVE GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824" ;;
        *) echo "unknown variant $1" >&2; return 1 ;;
    esac
}

# ---- suites: JSON lines on stdout ----------------------------------------------------------------

run_csharp() {   # $1: run id [, $2: build directory (default $BUILD), $3: suffix of the variants' names]
    local build="${2:-$BUILD}" suffix="${3:-}" only=()
    if [ -n "${PEERS_ONLY:-}" ]; then only=(--only "$PEERS_ONLY"); fi
    log "csharp run $1 variant aot$suffix"
    "$build/csharp/autograd-fast" peers --run "$1" --variant "aot$suffix" "${only[@]}"
    log "csharp run $1 variant jit$suffix"
    dotnet "$build/csharp-jit/autograd-fast.dll" peers --run "$1" --variant "jit$suffix" "${only[@]}"
}

run_torch() {    # $1: run id
    local v
    for v in "${VARIANTS[@]}"; do
        for t in 1 2; do
            log "torch-python run $1 variant $v threads $t"
            # shellcheck disable=SC2046
            env $(variant_env "$v") "$PY" "$HERE/torch_workloads.py" --threads "$t" --run "$1" --variant "$v"
        done
    done
}

run_libtorch() { # $1: run id
    local v
    for v in "${VARIANTS[@]}"; do
        for t in 1 2; do
            log "libtorch-cpp run $1 variant $v threads $t"
            # shellcheck disable=SC2046
            env $(variant_env "$v") "$BUILD/libtorch/peers-libtorch" --threads "$t" --run "$1" --variant "$v"
        done
    done
}

run_smoke() {
    local failed=0
    log "smoke: csharp"
    "$BUILD/csharp/autograd-fast" peers --smoke || failed=1
    dotnet "$BUILD/csharp-jit/autograd-fast.dll" peers --smoke || failed=1
    for t in 1 2; do
        log "smoke: torch-python threads $t"
        # shellcheck disable=SC2046
        env $(variant_env default) "$PY" "$HERE/torch_workloads.py" --smoke --threads "$t" || failed=1
        log "smoke: libtorch-cpp threads $t"
        # shellcheck disable=SC2046
        env $(variant_env default) "$BUILD/libtorch/peers-libtorch" --smoke --threads "$t" || failed=1
    done
    if [ "$failed" -ne 0 ]; then log "SMOKE FAILED"; return 1; fi
    log "smoke: all PASS"
}

# ---- saving a run (--save results/NAME) ---------------------------------------------------------

save_path() {    # $1: "--save" or nothing, $2: NAME relative to bench/peers or absolute -> the absolute path ("" without --save)
    [ "$1" = "--save" ] || return 0
    local path="${2:?--save needs a path}"
    case "$path" in /*) ;; *) path="$HERE/$path" ;; esac
    mkdir -p "$(dirname "$path")"
    echo "$path"
}

save_results() { # $1: the run's JSON lines (and $1.txt, its table), $2: save path or "", $3...: footer lines
    local lines="$1" save="$2"
    shift 2
    [ -n "$save" ] || return 0
    cp "$lines" "$save.jsonl"
    { cat "$lines.txt"; echo; printf '%s\n' "$@"; } > "$save.txt"
    log "saved $save.jsonl and $save.txt"
}

mode="${1:-}"
case "$mode" in
    csharp) build_csharp; run_csharp "${PEERS_RUN:-1}" ;;
    torch) run_torch "${PEERS_RUN:-1}" ;;
    libtorch) build_libtorch; run_libtorch "${PEERS_RUN:-1}" ;;
    smoke) build_csharp; build_libtorch; run_smoke ;;
    all)
        save="$(save_path "${2:-}" "${3:-}")"
        start=$(date +%s)
        load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
        build_csharp
        build_libtorch
        lines="$BUILD/all-$(date +%Y%m%d-%H%M%S).jsonl"
        mkdir -p "$BUILD"
        : > "$lines"
        for ((r = 1; r <= RUNS; r++)); do
            # interleaved: every suite once per round, so machine noise spreads over all of them
            run_csharp "$r" | tee -a "$lines"
            run_torch "$r" | tee -a "$lines"
            run_libtorch "$r" | tee -a "$lines"
        done
        echo
        "$PY" "$HERE/table.py" "$lines" | tee "$lines.txt"
        elapsed=$(( $(date +%s) - start ))
        log "all: ${elapsed} s in total (builds included); JSON lines in $lines"
        save_results "$lines" "$save" "run.sh all: ${elapsed} s in total (builds included), $(nproc) cores, $(date -u +%FT%TZ)" \
            "load average (1/5/15 min) at start: $load_start, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
        ;;
    versus)
        # The same harness for two revisions of the library: a change's cost in the lines users see.
        rev="$(git -C "$ROOT" rev-parse --short "${2:?versus needs a revision}")"
        save="$(save_path "${3:-}" "${4:-}")"
        load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
        tree="$BUILD/tree-$rev"
        [ -d "$tree" ] || git -C "$ROOT" worktree add --detach "$tree" "$rev" >&2
        build_csharp "$tree" "$BUILD/versus-$rev"
        build_csharp
        lines="$BUILD/versus-$rev-$(date +%Y%m%d-%H%M%S).jsonl"
        : > "$lines"
        for ((r = 1; r <= ${PEERS_RUNS:-3}; r++)); do
            run_csharp "$r" "$BUILD/versus-$rev" "-$rev" | tee -a "$lines"
            run_csharp "$r" | tee -a "$lines"
        done
        echo
        "$PY" "$HERE/table.py" --versus "$lines" | tee "$lines.txt"
        save_results "$lines" "$save" "run.sh versus $rev: ${PEERS_RUNS:-3} turns each, $(nproc) cores, $(date -u +%FT%TZ)" \
            "load average (1/5/15 min) at start: $load_start, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
        ;;
    *)
        sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
