#!/usr/bin/env bash
# Nabla vs PyTorch and TorchSharp on this machine, side by side, in one run:
#   bench/run.sh [--quick] [--threads T] [--wait-quiet SECONDS] [--rounds R] [--only SECTIONS] [--name NAME] [--no-torchsharp]
# installs the peers if missing (Debian's python3-torch with OpenBLAS; TorchSharp 0.107 with libtorch 2.10 from NuGet,
# ≈ 130 MB, made loadable on Debian 12 by bench/TorchSharp.Bench/compat/make_loadable.py) and Fashion-MNIST, builds
# bench/Nabla.Bench and bench/TorchSharp.Bench in Release, runs every section on every side (Nabla, then PyTorch, then
# TorchSharp, section by section, each in a fresh process, the same thread count), and writes bench/results.json and
# docs/benchmarks.md (with --name NAME: bench/NAME.json and docs/NAME.md, to keep a run on another kind of machine
# beside the main one). --no-torchsharp leaves TorchSharp out (no download).
# --rounds R: run each section R times on each side, alternating (Nabla, PyTorch, Nabla, PyTorch, ...), and report each
# side's faster round per workload: on a VM whose speed drifts by 2× over minutes, one round per side can catch one
# side in a slow spell.
# --wait-quiet S: before each section, wait (at most S seconds over the whole run) until the machine's CPUs have been
# idle (< 10 % busy) for 3 consecutive 2-second samples, since other processes distort the timings of both sides; then,
# before each side's run, until bench/probe.py finds the machine's compute rate within 10 % of the fastest it has seen in
# this run (a virtual machine's host slows it by up to 2× for minutes at a time, invisibly from inside: no busy CPU, no
# steal time). The readings (with a copy rate, recorded only: it scatters too much from one reading to the next to gate
# on) are kept in the report.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

QUICK=()
THREADS=2
SECTIONS=gemm,train_mlp,train_cnn,infer,tiny
WAIT_QUIET=0
NAME=""
ROUNDS=1
TORCHSHARP=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=(--quick) ;;
    --threads) THREADS="$2"; shift ;;
    --only) SECTIONS="$2"; shift ;;
    --wait-quiet) WAIT_QUIET="$2"; shift ;;
    --name) NAME="$2"; shift ;;
    --rounds) ROUNDS="$2"; shift ;;
    --no-torchsharp) TORCHSHARP=0 ;;
    *) echo "usage: bench/run.sh [--quick] [--threads T] [--wait-quiet SECONDS] [--rounds R] [--only gemm,train_mlp,train_cnn,infer,tiny] [--name NAME] [--no-torchsharp]" >&2; exit 2 ;;
  esac
  shift
done
COMMAND="bench/run.sh${QUICK:+ --quick} --threads $THREADS"
[ "$WAIT_QUIET" = 0 ] || COMMAND="$COMMAND --wait-quiet $WAIT_QUIET"
[ "$SECTIONS" = gemm,train_mlp,train_cnn,infer,tiny ] || COMMAND="$COMMAND --only $SECTIONS"
[ "$ROUNDS" = 1 ] || COMMAND="$COMMAND --rounds $ROUNDS"
[ -z "$NAME" ] || COMMAND="$COMMAND --name $NAME"
[ "$TORCHSHARP" = 1 ] || COMMAND="$COMMAND --no-torchsharp"
RESULTS=bench/${NAME:-results}.json
MARKDOWN=docs/${NAME:-benchmarks}.md

# --- the peer: Debian's PyTorch, linked against the pthread OpenBLAS -----------------------------------------------
PY=/usr/bin/python3
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if ! "$PY" -c "import torch, numpy" >/dev/null 2>&1 || ! dpkg -s libopenblas0-pthread >/dev/null 2>&1; then
  echo "installing python3-torch and libopenblas0-pthread" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq python3-torch libopenblas0-pthread >/dev/null
fi
scripts/install-deps.sh   # Fashion-MNIST

# --- Nabla.Bench, built apart from the library's own bin/obj (bench/artifacts is git-ignored) ----------------------
ART="$ROOT/bench/artifacts"
# The code measured is the code built here: its commit, and whether the library or the harness differed from it then
# (edits made while the run goes on are not measured).
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
[ -z "$(git status --porcelain -- src bench/Nabla.Bench 2>/dev/null)" ] || COMMIT="$COMMIT with uncommitted changes in src or bench/Nabla.Bench"
dotnet build bench/Nabla.Bench -c Release --nologo -v quiet --artifacts-path "$ART" >&2
DLL="$ART/bin/Nabla.Bench/release/Nabla.Bench.dll"
[ -f "$DLL" ] || { echo "build produced no $DLL" >&2; exit 1; }

# --- the second peer: TorchSharp (bench/TorchSharp.Bench, not part of the library's solution) ------------------------
if [ "$TORCHSHARP" = 1 ]; then
  if ! command -v g++ >/dev/null; then   # compat/make_loadable.py compiles a one-function shim
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq g++ >/dev/null
  fi
  dotnet build bench/TorchSharp.Bench -c Release --nologo -v quiet --artifacts-path "$ART" >&2
  TS_DLL="$ART/bin/TorchSharp.Bench/release/TorchSharp.Bench.dll"
  [ -f "$TS_DLL" ] || { echo "build produced no $TS_DLL" >&2; exit 1; }
  TS_PRELOAD=$("$PY" bench/TorchSharp.Bench/compat/make_loadable.py "$ART/bin/TorchSharp.Bench/release/runtimes/linux-x64/native")
fi

RAW="$ART/results"
rm -rf "$RAW"
mkdir -p "$RAW" docs

load() { cut -d' ' -f1-3 /proc/loadavg; }
# Percentage of CPU time (all CPUs) not idle over the next 2 seconds, from /proc/stat.
busy() {
  local a b
  a=($(head -1 /proc/stat)); sleep 2; b=($(head -1 /proc/stat))
  local total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
  local idle=$(( (b[4] - a[4]) + (b[5] - a[5]) ))
  echo $(( total > 0 ? 100 * (total - idle) / total : 0 ))
}
# The budget is the time spent waiting, summed over the run (the runs themselves do not count against it: a budget
# counted from the start of the run was spent by its second section, and every later side went ungated).
WAITED=0
WAIT_LEFT=$WAIT_QUIET
# Charges the time since $1 (a $SECONDS reading) to the budget.
charge() {
  WAITED=$((WAITED + SECONDS - $1))
  WAIT_LEFT=$((WAIT_QUIET - WAITED))
}
wait_quiet() {
  local quiet=0 b since
  while [ "$WAIT_LEFT" -gt 0 ] && [ $quiet -lt 3 ]; do
    since=$SECONDS
    b=$(busy)
    if [ "$b" -lt 10 ]; then quiet=$((quiet + 1)); else quiet=0; fi
    charge $since
  done
  [ $quiet -ge 3 ] || [ "$WAIT_QUIET" -eq 0 ] || echo "warning: the machine did not become quiet; measuring anyway" >&2
}
# The machine's current speed (bench/probe.py): "GFLOP/s GB/s". The fastest compute seen so far in this run is the yardstick.
BEST_G=0
# Sets PG and PM to one reading (run in this shell, not a subshell, so that the yardstick it keeps stays).
probe() {
  read -r PG PM < <("$PY" bench/probe.py)
  BEST_G=$(awk -v a="$BEST_G" -v b="$PG" 'BEGIN { print (b > a ? b : a) }')
}
# Probes until the compute rate is within 10 % of the fastest seen in the run (three probes at its start set the first
# yardstick), or the wait budget is spent; sets READING to the last probe, as "GFLOP/s/GB/s".
wait_steady() {
  local since
  while true; do
    since=$SECONDS
    probe
    READING="$PG/$PM"
    [ "$WAIT_QUIET" -gt 0 ] || return 0
    if awk -v g="$PG" -v best="$BEST_G" 'BEGIN { exit !(g >= 0.9 * best) }'; then
      return 0
    fi
    sleep 3
    charge $since
    if [ "$WAIT_LEFT" -le 0 ]; then
      echo "warning: the machine is slower than earlier in this run ($READING against $BEST_G GFLOP/s); measuring anyway" >&2
      return 0
    fi
  done
}
if [ "$WAIT_QUIET" -gt 0 ]; then probe; probe; probe; fi
LOAD_BEFORE=$(load)
NABLA_FILES=()
TORCH_FILES=()
TS_FILES=()
BUSY=()
READINGS=()
for s in ${SECTIONS//,/ }; do
  wait_quiet
  b=$(busy)
  BUSY+=("$s: ${b}%")
  echo "== $s (CPU busy before: ${b}%, load $(load))" >&2
  SECTION_READINGS=()
  for r in $(seq "$ROUNDS"); do
    wait_steady; SECTION_READINGS+=("N $READING")
    DOTNET_GCgen0size="${DOTNET_GCgen0size:-0x1000000}" dotnet "$DLL" "${QUICK[@]}" --threads "$THREADS" --only "$s" --json "$RAW/nabla_${s}_$r.json" >/dev/null
    wait_steady; SECTION_READINGS+=("P $READING")
    "$PY" bench/torch_bench.py "${QUICK[@]}" --threads "$THREADS" --only "$s" --json "$RAW/torch_${s}_$r.json" >/dev/null
    NABLA_FILES+=("$RAW/nabla_${s}_$r.json")
    TORCH_FILES+=("$RAW/torch_${s}_$r.json")
    if [ "$TORCHSHARP" = 1 ]; then
      wait_steady; SECTION_READINGS+=("T $READING")
      LD_PRELOAD="$TS_PRELOAD" dotnet "$TS_DLL" "${QUICK[@]}" --threads "$THREADS" --only "$s" --json "$RAW/torchsharp_${s}_$r.json" >/dev/null
      TS_FILES+=("$RAW/torchsharp_${s}_$r.json")
    fi
  done
  READINGS+=("$s: ${SECTION_READINGS[*]}")
  echo "   probes before each run: ${SECTION_READINGS[*]} (fastest so far $BEST_G GFLOP/s)" >&2
done
LOAD_AFTER=$(load)

# --- the machine ---------------------------------------------------------------------------------------------------
BUSY_TEXT=$(IFS=,; echo "${BUSY[*]}")
READINGS_TEXT=$(IFS=';'; echo "${READINGS[*]}")
"$PY" - "$RAW/machine.json" "$LOAD_BEFORE" "$LOAD_AFTER" "$BUSY_TEXT" "$READINGS_TEXT" "$BEST_G" "$COMMIT" <<'EOF'
import json, os, platform, subprocess, sys
def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return "?"
lscpu = dict(l.split(":", 1) for l in sh("LC_ALL=C lscpu").splitlines() if ":" in l)
lscpu = {k.strip(): v.strip() for k, v in lscpu.items()}
flags = lscpu.get("Flags", "").split()
simd = " ".join(f for f in flags if f in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "avx512_vnni"))
mem = sh("free -h | awk '/^Mem:/ {print $2}'")
m = {
    "cpu": f"{lscpu.get('Model name', '?')} ({lscpu.get('Vendor ID', '?')}, family {lscpu.get('CPU family', '?')} model {lscpu.get('Model', '?')}), "
           f"{lscpu.get('Socket(s)', '?')} socket × {lscpu.get('Core(s) per socket', '?')} cores × {lscpu.get('Thread(s) per core', '?')} threads"
           + "".join(f", {k} {lscpu[k]}" for k in ("L1d cache", "L2 cache", "L3 cache") if k in lscpu)
           + (f", hypervisor {lscpu['Hypervisor vendor']}" if "Hypervisor vendor" in lscpu else "")
           + (", virtual machine" if "hypervisor" in flags else ""),
    "nproc": sh("nproc"),
    "flags": f"SIMD flags: {simd}",
    "memory": f"{mem} RAM",
    "kernel": platform.release(),
    "openblas": sh("dpkg-query -W -f='${Package} ${Version}' libopenblas0-pthread") + ", libblas.so.3 -> " + os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3"),
    "dotnet": sh("dotnet --version"),
    "load_before": sys.argv[2],
    "load_after": sys.argv[3],
    "busy_before_sections": sys.argv[4],
    "probes_before_runs": sys.argv[5],
    "fastest_probe": sys.argv[6],
    "commit": sys.argv[7],
    "lscpu": lscpu,
}
json.dump(m, open(sys.argv[1], "w"), indent=1)
EOF

TS_ARGS=()
[ "$TORCHSHARP" = 0 ] || TS_ARGS=(--torchsharp "${TS_FILES[@]}")
"$PY" bench/report.py --nabla "${NABLA_FILES[@]}" --torch "${TORCH_FILES[@]}" "${TS_ARGS[@]}" --machine "$RAW/machine.json" \
  --command "$COMMAND" --results "$RESULTS" --markdown "$MARKDOWN"
cat "$MARKDOWN"
