# Shared by benchmarks/fleet-load.sh and benchmarks/push-latency.sh (sourced, not run).
#
# A real coordinator (`cordon serve`, release build) on 127.0.0.1 whose state directory and
# enrolled agents' identities are cached under .build-bench/ (git-ignored) so that the next run
# with the same fleet skips the enrollment; FRESH=1 starts over. The coordinator is this
# script's child, stopped by its PID.

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SERVER=""
URL=""

die() { echo "error: $*" >&2; exit 1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
load_average() { echo "load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"; }

find_cordon() {
    local bin=${1:-}
    if [ -z "$bin" ]; then
        if [ -x "$REPO/dist/bin/cordon" ]; then bin=$REPO/dist/bin; else bin=$REPO/.build/release; fi
    fi
    CORDON=$bin/cordon
    [ -x "$CORDON" ] || die "no cordon in $bin (run scripts/package or swift build -c release, or pass the directory)"
    command -v python3 >/dev/null || die "needs python3"
    python3 -c 'import cryptography' 2>/dev/null || die "needs the Python cryptography package (apt-get install python3-cryptography)"
}

# raise_fd_limit N: N open files for this shell and its children (the coordinator and the
# generator each hold one per open connection; each process has its own limit).
raise_fd_limit() {
    local want=$1 hard
    hard=$(ulimit -Hn)
    if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
        ulimit -Hn "$want" 2>/dev/null || die "needs $want open files per process; the hard limit is $hard and cannot be raised here (raising it needs CAP_SYS_RESOURCE); lower AGENTS"
    fi
    ulimit -Sn "$(ulimit -Hn)"
}

stop_server() {
    [ -n "$SERVER" ] || return 0
    kill "$SERVER" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
    SERVER=""
}

# start_server STATE LOG: `cordon serve` on 127.0.0.1 with a free port; sets SERVER and URL.
start_server() {
    local state=$1 log=$2 port=""
    "$CORDON" serve --state-dir "$state" --host 127.0.0.1 --port 0 --log-level "${LOG_LEVEL:-notice}" > "$log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 300); do
        port=$(grep -so 'address=127\.0\.0\.1:[0-9]*' "$log" | head -n1 | cut -d: -f2 || true)
        [ -n "$port" ] && break
        kill -0 "$SERVER" 2>/dev/null || die "the coordinator exited: $(tail -n 5 "$log")"
        sleep 0.1
    done
    [ -n "$port" ] || die "the coordinator did not start within 30 s: $(tail -n 5 "$log")"
    URL=https://127.0.0.1:$port
    for _ in $(seq 1 50); do
        timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null && return 0
        sleep 0.2
    done
    die "the coordinator does not accept connections at $URL: $(tail -n 5 "$log")"
}

# prepare_fleet DIR AGENTS SEGMENT_SIZE SEGMENT_PREFIX: a coordinator state in DIR/state with
# AGENTS enrolled agents (identities in DIR/agents), SEGMENT_SIZE agents per segment
# (SEGMENT_PREFIX-1, -2, ...); reused when DIR already holds them. Leaves the server stopped.
prepare_fleet() {
    local dir=$1 agents=$2 size=$3 prefix=$4
    if [ "${FRESH:-0}" = 1 ]; then rm -rf "$dir"; fi
    if [ -f "$dir/agents/agents.tsv" ] && [ "$(wc -l < "$dir/agents/agents.tsv")" -ge "$agents" ] && [ -f "$dir/state/cordon.db" ]; then
        echo "Reusing $(wc -l < "$dir/agents/agents.tsv") enrolled agents in $dir (FRESH=1 to start over)"
        return 0
    fi
    rm -rf "$dir"
    mkdir -p "$dir/agents"
    "$CORDON" init --state-dir "$dir/state" --name 127.0.0.1 > "$dir/init.log"
    start_server "$dir/state" "$dir/enroll-serve.log"
    "$CORDON" operators add bench --state-dir "$dir/state" --coordinator "$URL" --out "$dir/operator" > /dev/null
    local segments=$(( (agents + size - 1) / size )) left=$agents s uses token
    : > "$dir/tokens"
    for s in $(seq 1 "$segments"); do
        uses=$(( left < size ? left : size ))
        while [ "$uses" -gt 0 ]; do   # a token allows at most 10,000 uses
            local n=$(( uses < 10000 ? uses : 10000 ))
            token=$("$CORDON" tokens create --profile "$dir/operator/bench.yaml" --coordinator "$URL" --segment "$prefix-$s" --uses "$n" --ttl 1d 2>/dev/null)
            echo "$prefix-$s $token $n" >> "$dir/tokens"
            uses=$(( uses - n )); left=$(( left - n ))
        done
    done
    echo "Enrolling $agents agents in $segments segment(s) (real P-256 keys and CSRs, one-time tokens; cached for later runs) ..."
    python3 "$HERE/fleet_load.py" enroll --url "$URL" --ca "$dir/operator/ca.crt" --tokens "$dir/tokens" --count "$agents" --dir "$dir/agents" \
        | python3 -c 'import json,sys; r=json.load(sys.stdin); print("  %s enrolled in %s s" % (format(r["enrolled"], ","), r["seconds"]))'
    stop_server
}

db_size() {
    local state=$1
    echo $(( $(stat -c %s "$state/cordon.db") + $(stat -c %s "$state/cordon.db-wal" 2>/dev/null || echo 0) ))
}
