#!/usr/bin/env bash
# One row of the load-test table in docs/benchmarks.md: starts a fresh release server
# on an empty data dir (anonymous development mode, logs at warn), runs
# `codeplatform loadtest` against it with the arguments given, and prints, after the
# load tester's summary, the server's CPU time (whole run and median second) and peak
# memory, and the load tester's own CPU time.
#
#   bash scripts/loadbench.sh NAME [loadtest arguments without --url ...]
#
# Reports land in target/loadbench/NAME.{json,svg}. Extra server settings come from
# the environment as usual (CODEPLATFORM_<SECTION>__<KEY>); LOADBENCH_PORT picks the
# port (9100).
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1
shift
bin=./target/release/codeplatform
cargo build --release --bin codeplatform
out=target/loadbench
mkdir -p "$out"
data=$(mktemp -d /tmp/loadbench-data.XXXXXX)
port=${LOADBENCH_PORT:-9100}
# Both processes may hold tens of thousands of sockets.
ulimit -n "$(ulimit -Hn)"
CODEPLATFORM_DEV__ANONYMOUS=true CODEPLATFORM_LOG__LEVEL=warn \
  "$bin" serve --listen "127.0.0.1:$port" --data-dir "$data" >"$out/$name.server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
# The server's CPU each second, for the steady-state figure (the median second).
(while kill -0 $pid 2>/dev/null; do echo "$(cpu)"; sleep 1; done) >"$out/$name.cpu" 2>/dev/null &
sampler=$!
before=$(cpu)
started=$(date +%s.%N)
# LOADBENCH_PERF=1: a CPU profile of the server for the run, in target/loadbench/NAME.perf
# (perf comes with Debian's linux-perf package).
if [ -n "${LOADBENCH_PERF:-}" ]; then
  perf record -F 997 -g -o "$out/$name.perf" -p $pid 2>/dev/null &
  perf_pid=$!
fi
# CPU of this shell's children so far (the build above), to subtract below.
times >"$out/$name.times.before"
status=0
"$bin" loadtest --url "ws://127.0.0.1:$port/ws" --report "$out/$name.json" \
  --plot "$out/$name.svg" "$@" || status=$?
after=$(cpu)
[ -n "${perf_pid:-}" ] && kill -INT $perf_pid && wait $perf_pid || true
ended=$(date +%s.%N)
peak=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
kill $sampler 2>/dev/null || true
median=$(awk -v t="$ticks" 'NR > 1 { print ($1 - prev) / t } { prev = $1 }' "$out/$name.cpu" |
  sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }')
awk -v b="$before" -v a="$after" -v t="$ticks" -v s="$started" -v e="$ended" -v p="$peak" \
  -v m="$median" \
  'BEGIN { cpu = (a - b) / t; wall = e - s;
           printf "server: %.1f CPU-s over %.1f s wall (%.2f cores; median second %.2f cores), peak RSS %.0f MiB\n",
                  cpu, wall, cpu / wall, m, p / 1024 }' | tee "$out/$name.server.txt"
# The load tester's own CPU: what this shell's waited-for children used since the
# build (`times` must run in this shell, not in a pipeline's subshell).
times >"$out/$name.times"
tail -qn1 "$out/$name.times.before" "$out/$name.times" | awk -v s="$started" -v e="$ended" '
  { split($1, u, /[ms]/); split($2, k, /[ms]/); cpu[NR] = u[1] * 60 + u[2] + k[1] * 60 + k[2] }
  END { c = cpu[2] - cpu[1]; printf "load tester: %.1f CPU-s (%.2f cores)\n", c, c / (e - s) }' |
  tee -a "$out/$name.server.txt"
exit $status
