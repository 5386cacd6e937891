#!/usr/bin/env bash
# Push latency (issue 12): AGENTS real mTLS agents of one segment hold task long-polls against a
# real release `cordon serve` on loopback (GET /v1/tasks/next?wait=25, again after each 204, as
# `cordon-agent run` does); once all are held, one `cordon tasks push --segment` signs and
# queues a task list for every one of them. Printed: how long the push command took, and from
# the moment it started, when each agent had its task list in hand (p50, p99, the last), with
# the coordinator's CPU and peak RSS and the generator's own CPU. Goal: p99 under 1 s for
# 10,000 agents.
#
# The agents' identities and the coordinator's state are cached under .build-bench/ (FRESH=1 to
# start over); the pushed list is a rescan, which these simulated agents never run (nobody acks
# it; each push queues a new one).
#
# usage: [AGENTS=10000] [RUNS=3] [FRESH=0] benchmarks/push-latency.sh [DIR with cordon]
set -euo pipefail
source "$(dirname "$0")/fleet-lib.sh"

AGENTS=${AGENTS:-10000}
RUNS=${RUNS:-3}
for v in AGENTS RUNS; do [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -ge 1 ] || die "$v must be a whole number, at least 1"; done
[ "$AGENTS" -le 10000 ] || die "a segment push reaches at most 10,000 agents here (one token's uses); AGENTS=$AGENTS"
find_cordon "${1:-}"
raise_fd_limit $(( AGENTS + 4096 ))

CACHE=$REPO/.build-bench/push-$AGENTS
WORK=$(mktemp -d /tmp/cordon-push-latency.XXXXXX)
cleanup() { stop_server; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "Cordon push latency: $("$CORDON" --version); AGENTS=$AGENTS RUNS=$RUNS"
prepare_fleet "$CACHE" "$AGENTS" "$AGENTS" push
start_server "$CACHE/state" "$WORK/serve.log"
echo "Coordinator PID $SERVER at $URL; $(load_average)"
cat > "$WORK/rescan.yaml" <<'EOF'
description: push-latency benchmark
tasks:
  - rescan: {}
EOF

printf "\n  %-4s %9s %9s %9s %9s %9s %9s %9s %10s  %s\n" run "push s" "first s" "p50 s" "p99 s" "last s" "coord cpu" "gen cpu" "coord peak" errors
for run in $(seq 1 "$RUNS"); do
    python3 "$HERE/fleet_load.py" push --url "$URL" --ca "$CACHE/operator/ca.crt" --dir "$CACHE/agents" --count "$AGENTS" \
        --server-pid "$SERVER" --seed "$run" -- "$CORDON" tasks push --profile "$CACHE/operator/bench.yaml" --coordinator "$URL" \
        --segment push-1 "$WORK/rescan.yaml" --expires 10m > "$WORK/push-$run.json"
    python3 - "$WORK/push-$run.json" "$run" <<'EOF'
import json, sys
r, run = json.load(open(sys.argv[1])), sys.argv[2]
f = lambda v: "-" if v is None else f"{v:.3f}"
errors = ", ".join(f"{k}: {n}" for k, n in r["errors"].items()) or "none"
missing = r["agents"] - r["received"]
print(f"  {run:<4} {f(r['pushCommandSeconds']):>9} {f(r['firstS']):>9} {f(r['p50s']):>9} {f(r['p99s']):>9} {f(r['maxs']):>9} {r.get('serverCores', 0):>9.2f} "
      f"{r['generatorCores']:>9.2f} {r.get('serverPeakRSS', 0) / 1048576:>6.0f} MiB  {errors}{f'; {missing} agents got nothing' if missing else ''}")
EOF
done
echo "  (times from the start of \`cordon tasks push\`; cpu in cores over the push and the deliveries; $(load_average))"
