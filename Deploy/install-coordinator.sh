#!/usr/bin/env bash
# Installs the Cordon coordinator: a dedicated user, /etc/cordon and /var/lib/cordon with
# the right modes, the CA and keys (`cordon init`, once), the systemd unit.
#
#   install-coordinator.sh --binary ./cordon --name cordon.example.net [--san 198.18.0.1] [--no-start]
set -euo pipefail

binary="" name="" sans=() start=1
prefix=/usr/local/bin etc=/etc/cordon state=/var/lib/cordon unitdir=/etc/systemd/system
here=$(cd "$(dirname "$0")" && pwd)
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --san) sans+=(--san "$2"); shift 2 ;;
    --no-start) start=0; shift ;;
    -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-coordinator.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
fail() { echo "install-coordinator.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "run as root"
[ -n "$binary" ] && [ -x "$binary" ] || fail "--binary must name the cordon executable"
[ -n "$name" ] || fail "--name must give the host name agents will use"

id cordon >/dev/null 2>&1 || useradd --system --home-dir "$state" --shell /usr/sbin/nologin cordon
install -m 0755 "$binary" "$prefix/cordon"
# What `cordon rollout` copies to jump hosts, where an installed `cordon` looks for it.
install -d -m 0755 /usr/local/share/cordon/systemd
install -m 0755 "$here/install-agent.sh" "$here/cordon-agent-supervise" /usr/local/share/cordon/
install -m 0644 "$here/systemd/cordon-agent.service" /usr/local/share/cordon/systemd/
install -d -m 0755 "$etc"
install -d -m 0700 -o cordon -g cordon "$state"
[ -f "$etc/coordinator.yaml" ] || install -m 0644 "$here/coordinator.yaml.example" "$etc/coordinator.yaml"
if [ ! -f "$state/ca.crt" ]; then
  runuser -u cordon -- "$prefix/cordon" init --state-dir "$state" --name "$name" "${sans[@]}"
fi
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  install -m 0644 "$here/systemd/cordon-coordinator.service" "$unitdir/cordon-coordinator.service"
  systemctl daemon-reload
  [ "$start" -eq 1 ] && systemctl enable --now cordon-coordinator.service
fi
echo "Next: cordon operators add NAME --state-dir $state --coordinator https://$name:8443"
