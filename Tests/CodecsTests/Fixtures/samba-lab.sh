#!/usr/bin/env bash
# Validates CordonCodecs against real Samba (Debian's smbd, nmbd, samba-dcerpcd) and, with
# --capture, rewrites the samba-*.hex fixtures from what Samba answered.
#
#   sudo Tests/CodecsTests/Fixtures/samba-lab.sh [--capture]
#
# Lab rules: everything runs inside a network namespace created here (cx-lab, loopback only,
# 198.18.0.1/32, no default route); the servers use their own configs under a temp dir, never
# /etc/samba; every process started is stopped by its PID and the namespace is removed on exit.
# The client is lab-client.swift.txt, built against Sources/Shared/Codecs in a temp package.
# The servers keep their own process group (no --no-process-group): smbd signals its whole
# process group when it stops, which would otherwise take this script and its caller with it.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../../.." && pwd)
FIX="$REPO/Tests/CodecsTests/Fixtures"
NS=cx-lab
IP=198.18.0.1
CAPTURE=${1:-}
WORK=$(mktemp -d /tmp/cordon-samba-lab.XXXXXX)
PIDS=()

cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do
    for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do kill "$child" 2>/dev/null; done
    kill "$pid" 2>/dev/null
  done
  sleep 1
  ip netns del "$NS" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

export PATH=/opt/swift/usr/bin:$PATH

# 1. The client.
mkdir -p "$WORK/pkg/Sources/lab"
ln -s "$REPO/Sources/Shared/Codecs" "$WORK/pkg/Sources/CordonCodecs"
cp "$FIX/lab-client.swift.txt" "$WORK/pkg/Sources/lab/main.swift"
cat > "$WORK/pkg/Package.swift" <<'SWIFT'
// swift-tools-version:6.1
import PackageDescription
let package = Package(name: "lab", targets: [
    .target(name: "CordonCodecs"),
    .executableTarget(name: "lab", dependencies: ["CordonCodecs"]),
], swiftLanguageModes: [.v6])
SWIFT
(cd "$WORK/pkg" && swift build -q)
CLIENT="$WORK/pkg/.build/debug/lab"

# 2. The namespace.
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add "$IP/32" dev lo
if ip -n "$NS" route show default | grep -q .; then echo "namespace has a default route" >&2; exit 1; fi

config() { # name extra-lines...
  local dir="$WORK/$1"; shift
  mkdir -p "$dir"/{private,lock,state,cache,pid,ncalrpc,log}
  {
    echo "[global]"
    echo "  workgroup = CXLAB"
    echo "  server role = standalone server"
    echo "  map to guest = Bad User"
    echo "  interfaces = $IP/32"
    echo "  bind interfaces only = yes"
    echo "  smb ports = 445 139"
    for key in private lock state cache pid ncalrpc; do
      case $key in lock) k="lock directory";; state) k="state directory";; cache) k="cache directory";;
                   pid) k="pid directory";; ncalrpc) k="ncalrpc dir";; *) k="private dir";; esac
      echo "  $k = $dir/$key"
    done
    echo "  binddns dir = $dir/private"
    echo "  log file = $dir/log/log.%m"
    echo "  load printers = no"
    echo "  printing = bsd"
    echo "  printcap name = /dev/null"
    echo "  disable spoolss = yes"
    echo "  passdb backend = tdbsam:$dir/private/passdb.tdb"
    echo "  registry shares = no"
    echo "  include system krb5 conf = no"
    for line in "$@"; do echo "  $line"; done
  } > "$dir/smb.conf"
  echo "$dir/smb.conf"
}

start() { # command...
  ip netns exec "$NS" "$@" > "$WORK/last.out" 2>&1 &
  PIDS+=("$!")
  sleep 3
}

stop_last() {
  local pid=${PIDS[-1]}
  for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do kill "$child" 2>/dev/null || true; done
  kill "$pid" 2>/dev/null || true
  for _ in 1 2 3 4 5; do ps -p "$pid" > /dev/null || break; sleep 1; done
  unset 'PIDS[-1]'
}

save() { # capture-dir glob fixture-name
  [ "$CAPTURE" = "--capture" ] || return 0
  cp "$(ls "$1"/$2 | head -1)" "$FIX/$3"
}

client() { ip netns exec "$NS" timeout 60 "$CLIENT" "$@"; }

# 3. SMB1 on (NT1), null sessions allowed: extended, legacy, NetBIOS 139.
conf=$(config smb1on "netbios name = CXSAMBA1" "server min protocol = NT1" "restrict anonymous = 0" "disable netbios = yes")
start smbd --foreground -s "$conf"
for mode in extended legacy netbios; do
  cap="$WORK/cap-$mode"; mkdir -p "$cap"
  port=445; [ $mode = netbios ] && port=139
  args=(); [ $mode = extended ] || args=("$mode")
  echo "== smbd SMB1 on, $mode"; client smb "$IP" "$port" "${args[@]}" "$cap" | sed -n '/RESULT/,$p'
done
save "$WORK/cap-extended" 'c1-1-*' samba-smb1-negotiate-extended.hex
save "$WORK/cap-extended" 'c1-2-*' samba-smb1-session-challenge.hex
save "$WORK/cap-extended" 'c1-3-*' samba-smb1-session-anonymous.hex
save "$WORK/cap-extended" 'c1-4-*' samba-smb1-tree-ipc.hex
save "$WORK/cap-extended" 'c1-5-*' samba-smb1-peeknamedpipe.hex
save "$WORK/cap-extended" 'c1-6-*' samba-smb1-trans2-doublepulsar.hex
save "$WORK/cap-extended" 'c2-7-*' samba-smb2-negotiate.hex
save "$WORK/cap-legacy" 'c1-1-*' samba-smb1-negotiate-legacy.hex
save "$WORK/cap-legacy" 'c1-2-*' samba-smb1-session-legacy-null.hex
save "$WORK/cap-netbios" 'c1-1-*' samba-netbios-positive.hex
stop_last

# 4. Default protocols (SMB1 off).
conf=$(config smb1off "netbios name = CXSAMBA2" "restrict anonymous = 0" "disable netbios = yes")
start smbd --foreground -s "$conf"
mkdir -p "$WORK/cap-off"
echo "== smbd default (SMB1 off)"; client smb "$IP" 445 "$WORK/cap-off" | sed -n '/RESULT/,$p'
save "$WORK/cap-off" 'c1-1-*' samba-smb1-negotiate-smb1-disabled.hex
save "$WORK/cap-off" 'c2-3-*' samba-smb2-session-challenge.hex
stop_last

# 5. SMB1 on, signing mandatory, restrict anonymous = 2.
conf=$(config strict "netbios name = CXSAMBA4" "server min protocol = NT1" "restrict anonymous = 2" \
       "server signing = mandatory" "disable netbios = yes")
start smbd --foreground -s "$conf"
mkdir -p "$WORK/cap-strict"
echo "== smbd signing mandatory, restrict anonymous = 2"; client smb "$IP" 445 "$WORK/cap-strict" | sed -n '/RESULT/,$p'
save "$WORK/cap-strict" 'c1-1-*' samba-smb1-negotiate-signing-required.hex
save "$WORK/cap-strict" 'c1-4-*' samba-smb1-tree-ipc-denied.hex
save "$WORK/cap-strict" 'c2-5-*' samba-smb2-negotiate-signing-required.hex
stop_last

# 6. nmbd (NBSTAT on UDP 137) and samba-dcerpcd (endpoint mapper on TCP 135).
conf=$(config names "netbios name = CXSAMBA3" "disable netbios = no" "rpc start on demand helpers = no")
start nmbd --foreground -s "$conf"
echo "== nmbd NBSTAT"; client nbstat "$IP" "$WORK/nbstat.hex"
save "$WORK" 'nbstat.hex' samba-nbstat-response.hex
stop_last
start /usr/libexec/samba/samba-dcerpcd --libexec-rpcds -F -s "$conf"
echo "== samba-dcerpcd bind"; client dcerpc "$IP" 135 "$WORK/dcerpc.hex"
save "$WORK" 'dcerpc.hex' samba-dcerpc-bind-ack.hex
stop_last
echo "lab done"
