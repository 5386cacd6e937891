#!/usr/bin/env bash
# Fleet load (issue 12): AGENTS real mTLS agents against a real release `cordon serve` on
# loopback, in two phases:
#
#   steady  every agent heartbeats each HEARTBEAT seconds and sends a small report each REPORT
#           seconds (default 60 s and 300 s: the goal's 50,000 agents make 833 heartbeats and
#           167 reports a second), for DURATION seconds, each agent starting at a random point
#           of its intervals; with LONG_POLL=1 each agent also holds a task long-poll, as
#           `cordon-agent run` does. The agent's HTTP client closes a connection idle 20 s, so
#           an agent heartbeating each minute opens a new TLS connection for each heartbeat,
#           as in the field; the generator does the same.
#   burst   BURST_RATE full reports a second (default 500) for BURST_SECONDS (default 10), each
#           about 104 KiB of JSON (a /24 scan with 40 live hosts, their services and findings,
#           and this machine's own inventory from `cordon-agent inventory --json`, its package
#           list cut to about 77 KB), gzip-compressed as the agent sends it, from agents in turn,
#           on a new connection each, sent on schedule whether or not earlier ones are answered.
#
# Small reports stand in for the delta reports of the goal: Cordon's agents do not send deltas
# yet, so a report without a scan or inventory (the facts alone, about 300 bytes) is the
# nearest request there is.
#
# Printed per phase: requests a second by kind, p50/p99/max latency (from writing the request to
# reading the whole answer, on an open connection; new connections' handshakes apart), answers
# by status and errors, the coordinator's CPU (cores, from /proc) and peak RSS, the generator's
# own CPU and how late it was for its schedule (the steady phase runs in PROCS Python processes,
# each with its share of the agents: one tops out near a core, mostly in TLS handshakes; a late
# generator means the requested rate was not offered), and the database's size at the end.
#
# usage: [AGENTS=50000] [DURATION=300] [HEARTBEAT=60] [REPORT=300] [LONG_POLL=0]
#        [BURST_RATE=500] [BURST_SECONDS=10] [SEGMENT_SIZE=1000] [IDLE=20] [PROCS=2] [FRESH=0]
#        benchmarks/fleet-load.sh [DIR with cordon and cordon-agent]
#   the directory defaults to dist/bin (scripts/package), else .build/release.
set -euo pipefail
source "$(dirname "$0")/fleet-lib.sh"

AGENTS=${AGENTS:-50000}
DURATION=${DURATION:-300}
HEARTBEAT=${HEARTBEAT:-60}
REPORT=${REPORT:-300}
LONG_POLL=${LONG_POLL:-0}
BURST_RATE=${BURST_RATE:-500}
BURST_SECONDS=${BURST_SECONDS:-10}
SEGMENT_SIZE=${SEGMENT_SIZE:-1000}
IDLE=${IDLE:-20}
PROCS=${PROCS:-2}
for v in AGENTS DURATION HEARTBEAT REPORT BURST_RATE BURST_SECONDS SEGMENT_SIZE IDLE PROCS; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number"
done
[ "$AGENTS" -ge 1 ] && [ "$HEARTBEAT" -ge 1 ] && [ "$SEGMENT_SIZE" -ge 1 ] || die "AGENTS, HEARTBEAT and SEGMENT_SIZE must be at least 1"
find_cordon "${1:-}"
AGENT_BIN=$(dirname "$CORDON")/cordon-agent
[ "$BURST_RATE" = 0 ] || [ -x "$AGENT_BIN" ] || die "no cordon-agent beside $CORDON (the burst's inventory comes from it)"
# An agent holds its connection IDLE seconds after each request (the agent's client: 20 s):
# with a heartbeat each minute about a third of them are open at once (all of them with
# long-polls, which hold one more). IDLE lower than 20 keeps fewer open where the open-files
# limit cannot be raised; the request and handshake rates stay the same while IDLE < HEARTBEAT.
[ "$LONG_POLL" = 1 ] && raise_fd_limit $(( 2 * AGENTS + 4096 )) || raise_fd_limit $(( AGENTS * (IDLE + 2) / HEARTBEAT + 2048 ))

CACHE=$REPO/.build-bench/fleet-$AGENTS
WORK=$(mktemp -d /tmp/cordon-fleet-load.XXXXXX)
cleanup() { stop_server; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "Cordon fleet load: $("$CORDON" --version)"
echo "  AGENTS=$AGENTS DURATION=${DURATION}s HEARTBEAT=${HEARTBEAT}s REPORT=${REPORT}s IDLE=${IDLE}s PROCS=$PROCS LONG_POLL=$LONG_POLL BURST_RATE=$BURST_RATE/s BURST_SECONDS=${BURST_SECONDS}s"
prepare_fleet "$CACHE" "$AGENTS" "$SEGMENT_SIZE" seg
CA=$CACHE/operator/ca.crt

start_server "$CACHE/state" "$WORK/serve.log"
db_start=$(db_size "$CACHE/state")
echo "Coordinator PID $SERVER at $URL, database $(mib "$db_start"); $(load_average)"

report() {   # prints a phase's JSON as a table
    python3 - "$1" "$2" <<'EOF'
import json, sys
r, phase = json.load(open(sys.argv[1])), sys.argv[2]
print(f"\n{phase}: {r['agents']:,} agents, {r['seconds']} s, {r['requestsPerSecond']:,} requests/s (long-polls apart)")
print(f"  {'kind':<14} {'answered':>9} {'per s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  by status / errors")
for kind, k in r["kinds"].items():
    if not k["answered"] and not k["errors"]:
        continue
    errors = ", ".join(f"{t}: {n}" for t, n in k["errors"].items()) or "no errors"
    status = ", ".join(f"{s}: {n:,}" for s, n in k["byStatus"].items())
    f = lambda v: "-" if v is None else f"{v:.1f}"
    print(f"  {kind:<14} {k['answered']:>9,} {k['answered'] / r['seconds']:>8.1f} {f(k['p50ms']):>8} {f(k['p99ms']):>8} {f(k['maxms']):>8}  {status}; {errors}")
h = r["handshakes"]
print(f"  new TLS connections: {h['count']:,} (p50 {h['p50ms']} ms, p99 {h['p99ms']} ms){'; failed: ' + str(h['errors']) if h['errors'] else ''}")
if r.get("longPollsHeldPeak"):
    print(f"  long-polls held at peak: {r['longPollsHeldPeak']:,}")
print(f"  coordinator: {r.get('serverCores', 0):.2f} cores, RSS {r.get('serverRSS', 0) / 1048576:.0f} MiB, peak {r.get('serverPeakRSS', 0) / 1048576:.0f} MiB")
print(f"  generator: {r['generatorCores']:.2f} cores; late for a scheduled request p99 {r['generatorLateP99ms']} ms")
b = r.get("fullBurst")
if b:
    print(f"  burst: {b['rate']} full reports/s for {b['seconds']} s ({b['reportBytes'] / 1024:.0f} KiB JSON, {b['gzipBytes'] / 1024:.0f} KiB gzip each), "
          f"sent in {b['sentInSeconds']} s; coordinator {b['serverCores']:.2f} cores, generator {b['generatorCores']:.2f} cores during it")
EOF
}

# --- steady --------------------------------------------------------------------------------------
args=(--url "$URL" --ca "$CA" --dir "$CACHE/agents" --count "$AGENTS" --server-pid "$SERVER")
[ "$LONG_POLL" = 1 ] && poll=(--long-poll) || poll=()
echo
echo "Steady load for ${DURATION}s ..."
python3 "$HERE/fleet_load.py" load "${args[@]}" --duration "$DURATION" --heartbeat "$HEARTBEAT" --report "$REPORT" --idle "$IDLE" --procs "$PROCS" "${poll[@]}" > "$WORK/steady.json"
report "$WORK/steady.json" "Steady (heartbeat each ${HEARTBEAT}s, small report each ${REPORT}s$([ "$LONG_POLL" = 1 ] && echo ', long-polls held'))"
cp "$WORK/steady.json" "$CACHE/last-steady.json"

# --- burst ---------------------------------------------------------------------------------------
if [ "$BURST_RATE" -gt 0 ]; then
    "$AGENT_BIN" inventory --json > "$WORK/inventory.json"
    echo
    echo "Full-report burst ..."
    python3 "$HERE/fleet_load.py" load "${args[@]}" --duration "$BURST_SECONDS" --heartbeat 1000000 --report 0 \
        --full-rate "$BURST_RATE" --full-seconds "$BURST_SECONDS" --inventory "$WORK/inventory.json" > "$WORK/burst.json"
    report "$WORK/burst.json" "Burst"
    cp "$WORK/burst.json" "$CACHE/last-burst.json"
fi

db_end=$(db_size "$CACHE/state")
echo
echo "Database: $(mib "$db_start") at the start, $(mib "$db_end") at the end; $(load_average)"
