#!/usr/bin/env bash
# The agent's footprint on a jump host, against a real coordinator on loopback:
#
#   - size of the stripped agent binary;
#   - idle memory: RSS and PSS (/proc/PID/smaps_rollup) of `cordon-agent run` after IDLE_SECONDS
#     of heartbeats (every 30s, the default) after its first report with a full inventory of
#     this machine (no scan configured);
#   - CPU seconds per hour while idle, from /proc/PID/stat over the same window;
#   - peak RSS (VmHWM, via getrusage of the child) of a loopback scan:
#     `cordon-agent scan --scope 127.0.0.0/SCAN_PREFIX --profile worms`.
#
# Everything runs on 127.0.0.1 (the scan only covers 127.0.0.0/8); the coordinator and agent are
# this script's children, stopped by their PIDs, their state in a temporary directory.
#
# usage: [IDLE_SECONDS=300] [SCAN_PREFIX=22] benchmarks/agent-footprint.sh [dist/bin]
#   the directory holds cordon and cordon-agent (default: dist/bin from scripts/package, else
#   .build/release). Run as root to give the inventory everything to read, as on a jump host.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BIN=${1:-}
if [ -z "$BIN" ]; then
    if [ -x "$REPO/dist/bin/cordon-agent" ]; then BIN=$REPO/dist/bin; else BIN=$REPO/.build/release; fi
fi
CORDON=$BIN/cordon
AGENT=$BIN/cordon-agent
IDLE=${IDLE_SECONDS:-300}
SCAN_PREFIX=${SCAN_PREFIX:-22}
WORK=$(mktemp -d /tmp/cordon-footprint.XXXXXX)
PIDS=()

cleanup() {
    for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
die() { echo "error: $*" >&2; exit 1; }
[ -x "$CORDON" ] && [ -x "$AGENT" ] || die "no cordon and cordon-agent in $BIN (run scripts/package, or pass the directory)"
[ "$SCAN_PREFIX" -ge 16 ] && [ "$SCAN_PREFIX" -le 30 ] || die "SCAN_PREFIX must be 16-30"
command -v python3 >/dev/null || die "needs python3"

kib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
field() { awk -v f="$1:" '$1 == f { print $2 }' "$2"; }   # a kB field of /proc files
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # utime + stime
CLK_TCK=$(getconf CLK_TCK)

echo "Cordon agent footprint: $("$AGENT" --version)"
echo "  binary: $AGENT"
size=$(stat -c %s "$AGENT")
stripped="stripped"
if file "$AGENT" 2>/dev/null | grep -q 'not stripped'; then stripped="NOT stripped"; fi
printf "  size: %s bytes (%s, %s)\n" "$size" "$(kib $((size / 1024)))" "$stripped"

# --- A coordinator on loopback, an operator, an enrolled agent --------------------------------
"$CORDON" init --state-dir "$WORK/coordinator" --name 127.0.0.1 --json > "$WORK/init.json"
fingerprint=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["caFingerprint"])' "$WORK/init.json")
"$CORDON" serve --state-dir "$WORK/coordinator" --host 127.0.0.1 --port 0 > "$WORK/serve.log" 2>&1 &
PIDS+=($!)
port=""
for _ in $(seq 1 200); do
    port=$(grep -o '127\.0\.0\.1:[0-9]*' "$WORK/serve.log" | head -n1 | cut -d: -f2 || true)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || die "the coordinator did not start: $(tail -n 5 "$WORK/serve.log")"
url=https://127.0.0.1:$port
"$CORDON" operators add bench --state-dir "$WORK/coordinator" --coordinator "$url" --out "$WORK/op" > /dev/null
export CORDON_PROFILE=$WORK/op/bench.yaml
"$CORDON" tokens create --segment bench --ttl 10m 2>/dev/null > "$WORK/token"
chmod 600 "$WORK/token"

cat > "$WORK/agent.yaml" <<EOF
stateDir: $WORK/agent
heartbeatInterval: 30s
reportInterval: 5m
inventory:
  enabled: true
  interval: 15m
EOF
"$AGENT" enroll --config "$WORK/agent.yaml" --coordinator "$url" --token-file "$WORK/token" --ca-fingerprint "$fingerprint" > /dev/null
"$AGENT" run --config "$WORK/agent.yaml" --log-level warning > "$WORK/agent.log" 2>&1 &
agent=$!
PIDS+=($agent)

# Wait for the first report (it carries the inventory).
reported=0
for _ in $(seq 1 600); do
    if "$CORDON" agents list --json 2>/dev/null | python3 -c '
import json, sys
agents = json.load(sys.stdin)
sys.exit(0 if agents and agents[0].get("lastReportAt") else 1)'; then reported=1; break; fi
    sleep 0.2
done
[ "$reported" = 1 ] || die "the agent's first report did not arrive: $(tail -n 5 "$WORK/agent.log")"
after_report=$(field VmRSS "/proc/$agent/status")
echo "  first report with the inventory received; agent RSS then: $(kib "$after_report")"

# --- Idle -------------------------------------------------------------------------------------
echo "  idle for ${IDLE}s (heartbeats every 30s) ..."
t0=$(cpu_ticks "$agent"); s0=$(date +%s.%N)
sleep "$IDLE"
kill -0 "$agent" 2>/dev/null || die "the agent exited: $(tail -n 5 "$WORK/agent.log")"
t1=$(cpu_ticks "$agent"); s1=$(date +%s.%N)
rss=$(field Rss "/proc/$agent/smaps_rollup"); pss=$(field Pss "/proc/$agent/smaps_rollup")
hwm=$(field VmHWM "/proc/$agent/status")
cpu_hour=$(awk -v t="$((t1 - t0))" -v hz="$CLK_TCK" -v a="$s0" -v b="$s1" 'BEGIN { printf "%.2f", (t / hz) / (b - a) * 3600 }')
heartbeats=$("$CORDON" agents list --json | python3 -c 'import json,sys; a=json.load(sys.stdin)[0]; print(a.get("lastSeenAt",""))')
anon=$(field RssAnon "/proc/$agent/status"); file=$(field RssFile "/proc/$agent/status")
echo "  idle RSS: $(kib "$rss"), PSS: $(kib "$pss") (smaps_rollup); VmHWM so far: $(kib "$hwm")"
echo "  of the RSS: anonymous $(kib "$anon") (heap, stacks), file-backed $(kib "$file") (the binary's pages, shared, reclaimable)"
echo "  idle CPU: ${cpu_hour} s per hour ($((t1 - t0)) ticks in $(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.0f", b - a }') s; last heartbeat $heartbeats)"

# --- A loopback scan ----------------------------------------------------------------------------
echo "  scanning 127.0.0.0/$SCAN_PREFIX, worms profile ..."
python3 - "$AGENT" "$SCAN_PREFIX" <<'EOF'
import resource, subprocess, sys, time
agent, prefix = sys.argv[1], sys.argv[2]
start = time.monotonic()
done = subprocess.run([agent, "scan", "--scope", f"127.0.0.0/{prefix}", "--profile", "worms", "--quiet", "--json"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=900)
took = time.monotonic() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB, the child's VmHWM
status = "" if done.returncode == 0 else f" (exit {done.returncode}: {done.stderr.decode()[-300:]})"
print(f"  scan peak RSS (VmHWM): {peak / 1024:.1f} MiB in {took:.1f} s{status}")
EOF
