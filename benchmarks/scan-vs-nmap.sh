#!/usr/bin/env bash
# Cordon's scanner against nmap -sT, measured in the same run.
#
#  (a) loopback: a block of 127.0.0.0/8 (default /22) × the worms TCP ports, a few of them open
#      (benchmarks/listen.py on two 127.x addresses), cordon `--profile ports` vs
#      `nmap -sT -T4 -Pn -n`: wall time, probes/s, agreement of port states.
#  (b) a network namespace with only lo, no default route, 198.18.0.0/23 made local; listeners
#      on 80 and 8888; nftables drops 135 and 4444 on 198.18.0.0/24 and everything to
#      198.18.1.0/25 (dead hosts): timeouts and retries;
#  (c) the same plus 20% of the SYNs to 445 dropped at random: losses that a retry gets
#      through, the drops that cut the congestion window.
#  (d) all-dead space: 198.18.0.0/26 with every packet dropped (no answer at all, ever).
#      cordon vs nmap -sT -T4 inside the namespace: wall time and agreement of port states.
#
# Lab rules: from the root namespace only 127.0.0.0/8 is scanned; 198.18.0.0/15 only inside the
# namespace this script creates (no default route) and removes on exit, with the processes it
# started (by PID).
#
# usage: sudo benchmarks/scan-vs-nmap.sh [loopback-prefix-length, default 22]
#   CORDON_AGENT=path/to/cordon-agent (default: .build/release/cordon-agent; needs `scan`)
#   CORDON_SCAN_ARGS="--no-icmp-echo" (extra flags for every cordon scan)
set -euo pipefail

PREFIX=${1:-22}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
CORDON=${CORDON_AGENT:-$REPO/.build/release/cordon-agent}
# Extra flags for every cordon scan (e.g. --no-icmp-echo to compare with nmap -Pn exactly).
read -r -a EXTRA <<< "${CORDON_SCAN_ARGS:-}"
PORTS=80,443,135,139,445,593,4444,8888,33333
WORK=$(mktemp -d /tmp/cordon-bench.XXXXXX)
NS=cordon-bench-$$
PIDS=()

cleanup() {
    for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

die() { echo "error: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (network namespace, nftables)"
command -v nmap >/dev/null || die "nmap is not installed"
"$CORDON" scan --help >/dev/null 2>&1 || die "$CORDON has no scan command (build: swift build -c release --product cordon-agent)"
[ "$PREFIX" -ge 16 ] && [ "$PREFIX" -le 28 ] || die "prefix length must be 16-28"

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }
ratio() { echo "scale=2; $1 / $2" | bc -l; }

# Every address of a CIDR (both tools scan its first and last address too).
hosts_of() {
    python3 -c "
import ipaddress, sys
for a in ipaddress.ip_network(sys.argv[1]): print(a)" "$1"
}

report_line() { # name seconds probes
    printf "  %-8s %8.2f s  %10.0f probes/s\n" "$1" "$2" "$(echo "$3 / $2" | bc -l)"
}

# ---------------------------------------------------------------- (a) loopback
SECOND=$(( (RANDOM % 100) + 100 ))
if [ "$PREFIX" -le 16 ]; then SCOPE="127.$SECOND.0.0/$PREFIX"; else SCOPE="127.$SECOND.0.0/$PREFIX"; fi
hosts_of "$SCOPE" > "$WORK/a.hosts"
N=$(wc -l < "$WORK/a.hosts")
PROBES=$((N * 9))
# A few open ports on two addresses of the block (accept-and-close listeners, deep backlog).
python3 "$HERE/listen.py" --seconds 900 "127.$SECOND.0.5:80" "127.$SECOND.0.5:8888" "127.$SECOND.0.77:80" \
    "127.$SECOND.0.77:445" > /dev/null 2>&1 & PIDS+=($!)
sleep 1

echo "(a) loopback: $SCOPE = $N addresses x 9 TCP ports = $PROBES connects"
t0=$(now)
"$CORDON" scan --scope "$SCOPE" --profile ports --rate 100000 --concurrency 4096 --timeout 500ms \
    --max-scope-size 70000 --json --quiet "${EXTRA[@]}" > "$WORK/a.json"
t1=$(now)
nmap -sT -T4 -Pn -n -p "$PORTS" "$SCOPE" -oG "$WORK/a.gnmap" > /dev/null
t2=$(now)
CA=$(elapsed "$t0" "$t1"); NA=$(elapsed "$t1" "$t2")
report_line cordon "$CA" "$PROBES"
report_line nmap "$NA" "$PROBES"
echo "  nmap/cordon wall-time ratio: $(ratio "$NA" "$CA")x"
printf "  port states: "; python3 "$HERE/compare_states.py" "$WORK/a.json" "$WORK/a.gnmap" "$PORTS" "$WORK/a.hosts"

# ---------------------------------------------------------------- (b), (c) namespace with drops
# ns_case LABEL EXTRA-NFT-RULE [SCOPE]: a fresh namespace, both tools, agreement.
ns_case() {
    local label=$1 extra=$2 scope=${3:-198.18.0.0/23}
    ip netns del "$NS" 2>/dev/null || true
    ip netns add "$NS"
    ip -n "$NS" link set lo up
    ip -n "$NS" addr add 198.18.0.1/32 dev lo
    ip -n "$NS" route add local 198.18.0.0/23 dev lo
    [ -z "$(ip -n "$NS" route show default)" ] || die "namespace has a default route"
    ip netns exec "$NS" nft -f - <<EOF
table inet cordonbench {
    chain input {
        type filter hook input priority 0; policy accept;
        ip daddr 198.18.0.0/24 tcp dport { 135, 4444 } drop
        ip daddr 198.18.1.0/25 drop
        $extra
    }
}
EOF
    ip netns exec "$NS" python3 "$HERE/listen.py" --seconds 900 0.0.0.0:80 0.0.0.0:8888 > /dev/null 2>&1 & local listener=$!
    PIDS+=($listener)
    sleep 1
    hosts_of "$scope" > "$WORK/$label.hosts"
    local n; n=$(wc -l < "$WORK/$label.hosts")
    local t0 t1 t2
    t0=$(now)
    ip netns exec "$NS" "$CORDON" scan --scope "$scope" --profile ports --rate 100000 --concurrency 4096 \
        --timeout 500ms --retries 2 --json --quiet --log-level info "${EXTRA[@]}" > "$WORK/$label.json" 2> "$WORK/$label.log"
    t1=$(now)
    ip netns exec "$NS" nmap -sT -T4 -Pn -n -p "$PORTS" "$scope" -oG "$WORK/$label.gnmap" > /dev/null
    t2=$(now)
    local c n2
    c=$(elapsed "$t0" "$t1"); n2=$(elapsed "$t1" "$t2")
    report_line cordon "$c" "$((n * 9))"
    report_line nmap "$n2" "$((n * 9))"
    echo "  nmap/cordon wall-time ratio: $(ratio "$n2" "$c")x"
    python3 - "$WORK/$label.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["stats"]
print(f"  cordon: {len(r['hosts'])} up, {r['hostsDown']} down, {s['probesSent']} probes, {s['retries']} retries, "
      f"{s['timeouts']} timeouts, peak {s['peakInFlight']} in flight, complete={r['complete']}")
EOF
    echo "  cordon congestion window cuts: $(grep -o 'scan.windowCuts=[0-9]*' "$WORK/$label.log" | cut -d= -f2)"
    printf "  port states: "; python3 "$HERE/compare_states.py" "$WORK/$label.json" "$WORK/$label.gnmap" "$PORTS" "$WORK/$label.hosts"
    kill "$listener" 2>/dev/null || true
    ip netns del "$NS"
}

echo
echo "(b) namespace: 198.18.0.0/23 local, no default route; nft drops 135+4444 on 198.18.0.0/24 and all of 198.18.1.0/25 (dead)"
ns_case b ""
echo
echo "(c) as (b), plus 20% of the SYNs to 445 dropped at random (losses a retry gets through: congestion control cuts)"
ns_case c "tcp dport 445 tcp flags syn numgen random mod 100 < 20 drop"
echo
echo "(d) all-dead space: 198.18.0.0/26, every packet dropped (silence is not congestion: the window must open)"
ns_case d "ip daddr 198.18.0.0/26 drop" 198.18.0.0/26
