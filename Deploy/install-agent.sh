#!/usr/bin/env bash
# Installs the Cordon agent on a jump host: binary, directories with the right modes,
# config, enrollment against a pinned CA, systemd unit.
#
#   install-agent.sh --binary ./cordon-agent --coordinator https://cordon.example.net:8443 \
#                    --token ct_... --ca-fingerprint SHA256:... [--config agent.yaml] [--no-start]
#
# Re-running it is safe: an agent that is already enrolled is not enrolled again, and the
# binary is replaced only when it differs.
set -euo pipefail

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

binary="" coordinator="" token="" fingerprint="" config="" start=1
prefix=/usr/local/bin etc=/etc/cordon state=/var/lib/cordon-agent unitdir=/etc/systemd/system
here=$(cd "$(dirname "$0")" && pwd)

while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --coordinator) coordinator=$2; shift 2 ;;
    --token) token=$2; shift 2 ;;
    --ca-fingerprint) fingerprint=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --no-start) start=0; shift ;;
    --prefix) prefix=$2; shift 2 ;;
    --etc) etc=$2; shift 2 ;;
    --state-dir) state=$2; shift 2 ;;
    --unit-dir) unitdir=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "install-agent.sh: unknown option $1" >&2; usage ;;
  esac
done

fail() { echo "install-agent.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "run as root"
[ -n "$binary" ] && [ -x "$binary" ] || fail "--binary must name the cordon-agent executable"

install -d -m 0755 "$prefix"
if ! cmp -s "$binary" "$prefix/cordon-agent" 2>/dev/null; then
  install -m 0755 "$binary" "$prefix/cordon-agent.new"
  mv -f "$prefix/cordon-agent.new" "$prefix/cordon-agent"
  echo "installed $prefix/cordon-agent"
fi

install -d -m 0755 "$etc"
install -d -m 0700 "$state"
if [ -n "$config" ]; then
  install -m 0644 "$config" "$etc/agent.yaml"
elif [ ! -f "$etc/agent.yaml" ]; then
  sed "s#^stateDir: .*#stateDir: $state#" "$here/agent.yaml.example" > "$etc/agent.yaml"
  chmod 0644 "$etc/agent.yaml"
fi

if [ -f "$state/enrollment.json" ]; then
  echo "already enrolled ($state/enrollment.json); not enrolling again"
else
  [ -n "$coordinator" ] && [ -n "$token" ] && [ -n "$fingerprint" ] \
    || fail "to enroll, give --coordinator, --token and --ca-fingerprint"
  "$prefix/cordon-agent" enroll --config "$etc/agent.yaml" --state-dir "$state" \
    --coordinator "$coordinator" --token "$token" --ca-fingerprint "$fingerprint"
fi

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  install -m 0644 "$here/systemd/cordon-agent.service" "$unitdir/cordon-agent.service"
  systemctl daemon-reload
  if [ "$start" -eq 1 ]; then
    systemctl enable cordon-agent.service
    systemctl restart cordon-agent.service
    echo "cordon-agent.service enabled and (re)started"
  fi
else
  echo "no systemd here: start the agent with: $prefix/cordon-agent run --config $etc/agent.yaml"
fi
