#!/usr/bin/env bash
# The operator's views on a big fleet (issue 12): wall time of `cordon status` and
# `cordon findings --worm conficker` (and their --json forms) against a coordinator whose
# database holds AGENTS agents and FINDINGS findings. Goal: under 200 ms each.
#
#   - a fresh coordinator state directory (`cordon init`, `cordon operators add`: a real CA and
#     a real operator certificate), first served empty, to time the fixed cost of a request
#     (process start, mTLS handshake, an empty view) and `cordon --version` (process start);
#   - then, coordinator stopped, benchmarks/fleet_db.py fills its database (made and migrated
#     by `cordon operators add`) with AGENTS agents over SEGMENTS segments, HOSTS_PER_AGENT
#     scanned hosts per agent with their services, and FINDINGS findings with real detection
#     IDs, OPEN_PERCENT of them open, the rest resolved; addresses are strings in 198.18.0.0/15
#     (data only); then it moves the agents' last heartbeats to now (none arrive during the
#     benchmark, so agents turn late and offline as the runs go on, which costs nothing more);
#   - the coordinator again, and RUNS runs of each request, each bounded by TIMEOUT seconds (a
#     run over it is killed and reported as timed out, and the case's remaining runs are
#     skipped); between cases the script waits (bounded) for the coordinator to go idle;
#   - per request: first, median and max wall time, the size of its output (the first run's,
#     written to a file; the other runs write to /dev/null); the coordinator's peak RSS (VmHWM)
#     after the case; the database's size.
#
# Everything runs on 127.0.0.1; the coordinator is this script's child, stopped by its PID, its
# state in a temporary directory (removed unless KEEP=1).
#
# usage: [AGENTS=50000] [FINDINGS=5000000] [SEGMENTS=500] [OPEN_PERCENT=2] [HOSTS_PER_AGENT=40]
#        [RUNS=5] [TIMEOUT=60] [KEEP=1] benchmarks/status-query.sh [dist/bin]
#   the directory holds cordon (default: dist/bin from scripts/package, else .build/release).
set -euo pipefail

source "$(dirname "$0")/fleet-lib.sh"   # HERE, REPO, die, mib, start_server, stop_server
BIN=${1:-}
if [ -z "$BIN" ]; then
    if [ -x "$REPO/dist/bin/cordon" ]; then BIN=$REPO/dist/bin; else BIN=$REPO/.build/release; fi
fi
CORDON=$BIN/cordon
AGENTS=${AGENTS:-50000}
FINDINGS=${FINDINGS:-5000000}
SEGMENTS=${SEGMENTS:-500}
OPEN_PERCENT=${OPEN_PERCENT:-2}
HOSTS_PER_AGENT=${HOSTS_PER_AGENT:-40}
RUNS=${RUNS:-5}
TIMEOUT=${TIMEOUT:-60}
KEEP=${KEEP:-0}
GOAL_MS=200
WORK=$(mktemp -d /tmp/cordon-status-query.XXXXXX)
STATE=$WORK/coordinator

cleanup() {
    stop_server
    if [ "$KEEP" = 1 ]; then echo "kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
[ -x "$CORDON" ] || die "no cordon in $BIN (run scripts/package, or pass the directory)"
command -v python3 >/dev/null || die "needs python3"
for v in AGENTS FINDINGS SEGMENTS HOSTS_PER_AGENT RUNS TIMEOUT; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number"
done
[ "$RUNS" -ge 1 ] || die "RUNS must be at least 1"

# Times RUNS runs of each request given as "label|args..." lines on stdin; prints table rows.
# The first run's output goes to a file (its size is reported), the others to /dev/null.
cat > "$WORK/time_requests.py" <<'EOF'
import os, shlex, statistics, subprocess, sys, time
cordon, url, server, runs, timeout, goal, work, phase = sys.argv[1:9]
runs, timeout, goal = int(runs), float(timeout), float(goal)
hz = os.sysconf("SC_CLK_TCK")

def server_ticks():
    with open(f"/proc/{server}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime

def vmhwm():
    with open(f"/proc/{server}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0

def settle(limit=180):
    """Waits (at most `limit` s) until the coordinator uses under 5% of a core: a timed-out
    request is still running there, and would be timed with the next one."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        a = server_ticks(); time.sleep(0.5); b = server_ticks()
        if (b - a) / hz < 0.025:
            return True
    return False

for n, line in enumerate(sys.stdin):
    label, _, args = line.rstrip("\n").partition("|")
    argv = [cordon] + shlex.split(args)
    if argv[1:2] != ["--version"]:
        argv += ["--coordinator", url]
    if not settle():
        print(f"  (the coordinator was still busy after 180 s before: {label})", file=sys.stderr)
    times, note, size = [], "", None
    for i in range(runs):
        out_path = os.path.join(work, f"out-{phase}-{n}")
        out = open(out_path, "wb") if i == 0 else open(os.devnull, "wb")
        start = time.monotonic()
        try:
            done = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE, timeout=timeout)
        except subprocess.TimeoutExpired:
            note = f"run {i + 1} timed out after {timeout:.0f} s; later runs skipped"
            out.close()
            break
        took = (time.monotonic() - start) * 1000
        out.close()
        if i == 0:
            size = os.path.getsize(out_path)
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip().splitlines()
            note = f"run {i + 1} failed (exit {done.returncode}, {took:.0f} ms): {err[-1][:160] if err else ''}"
            break
        times.append(took)
    if times:
        med, worst = statistics.median(times), max(times)
        verdict = "yes" if worst < goal else "no"
        cells = f"{times[0]:9.0f} {med:9.0f} {worst:9.0f}"
    else:
        verdict, cells = "no", f"{'-':>9} {'-':>9} {'-':>9}"
    size_text = "-" if size is None else (f"{size / 1048576:.1f} MiB" if size >= 1048576 else f"{size / 1024:.1f} KiB" if size >= 1024 else f"{size} B")
    print(f"  {label:<44} {cells} {len(times):>2}/{runs:<2} {size_text:>10} {vmhwm() / 1048576:8.0f} MiB  {verdict:>5}", flush=True)
    if note:
        print(f"      {note}", flush=True)
EOF
time_requests() {
    python3 "$WORK/time_requests.py" "$CORDON" "$URL" "$SERVER" "$RUNS" "$TIMEOUT" "$GOAL_MS" "$WORK" "$1"
}
table_header() {
    printf "  %-44s %9s %9s %9s %5s %10s %12s  %5s\n" "request" "first ms" "median ms" "max ms" "runs" "output" "coord VmHWM" "<${GOAL_MS}ms"
}
REQUESTS="cordon status|status
cordon status --json --attention-only|status --json --attention-only
cordon status --json (every agent)|status --json
cordon findings --worm conficker|findings --worm conficker
cordon findings --worm conficker --json|findings --worm conficker --json"

echo "Cordon status and findings on a big fleet: $("$CORDON" --version)"
echo "  binary: $CORDON"
echo "  fleet: AGENTS=$AGENTS SEGMENTS=$SEGMENTS HOSTS_PER_AGENT=$HOSTS_PER_AGENT FINDINGS=$FINDINGS OPEN_PERCENT=$OPEN_PERCENT; RUNS=$RUNS TIMEOUT=${TIMEOUT}s"

# --- A coordinator with a real CA and an operator, empty: the fixed cost -----------------------
"$CORDON" init --state-dir "$STATE" --name 127.0.0.1 --json > "$WORK/init.json"
start_server "$STATE" "$WORK/serve-empty.log"
"$CORDON" operators add bench --state-dir "$STATE" --coordinator "$URL" --out "$WORK/op" > /dev/null
export CORDON_PROFILE=$WORK/op/bench.yaml
echo
echo "Empty fleet (process start, mTLS handshake, an empty view; $(load_average)):"
table_header
time_requests empty <<EOF
cordon --version (process start only)|--version
$REQUESTS
EOF
stop_server

# --- The fleet --------------------------------------------------------------------------------
echo
echo "Generating the fleet with fleet_db.py (coordinator stopped) ..."
python3 "$HERE/fleet_db.py" "$STATE/cordon.db" --agents "$AGENTS" --segments "$SEGMENTS" --findings "$FINDINGS" \
    --open-percent "$OPEN_PERCENT" --hosts-per-agent "$HOSTS_PER_AGENT" > "$WORK/fleet.json"
python3 - "$WORK/fleet.json" <<'EOF'
import json, sys
f = json.load(open(sys.argv[1]))
rows = ", ".join(f"{n:,} {t}" for t, n in f["rows"].items())
print(f"  {f['seconds']} s: {rows}")
print(f"  open findings: {f['openFindings']:,} (Conficker: {f['openConfickerFindings']:,} open of {f['confickerFindings']:,})")
if f["foreignKeyViolations"]:
    sys.exit(f"  {f['foreignKeyViolations']} foreign key violations")
EOF
db_bytes=$(( $(stat -c %s "$STATE/cordon.db") + $(stat -c %s "$STATE/cordon.db-wal" 2>/dev/null || echo 0) ))
echo "  database: $(mib "$db_bytes") ($STATE/cordon.db)"

python3 "$HERE/fleet_db.py" "$STATE/cordon.db" --touch-agents   # heartbeats as of now
start_server "$STATE" "$WORK/serve-fleet.log"
echo
echo "Fleet of $AGENTS agents, $FINDINGS findings (coordinator VmHWM at start $(mib $(( $(awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER/status") * 1024 ))); $(load_average)):"
table_header
time_requests fleet <<EOF
$REQUESTS
EOF
echo "  (first: the first run of the request, the first of all after the coordinator started for"
echo "  the first row; the goal column compares the max; $(load_average))"
