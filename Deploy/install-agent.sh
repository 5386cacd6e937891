#!/usr/bin/env bash
# Installs, upgrades or repairs the Cordon agent on a jump host: binary (SHA-256 checked), config,
# policy, enrollment against a pinned CA, and a supervisor: the systemd unit where systemd runs,
# else cordon-agent-supervise (a plain restart loop with a pid file, started detached).
#
#   install-agent.sh --package cordon-agent_VERSION_amd64.deb|cordon-agent_VERSION_linux_amd64.tar.gz \
#                    [--sha256 HEX] --coordinator https://cordon.example.net:8443 \
#                    --token-file FILE --ca-fingerprint SHA256:... [--segment NAME] [--hostname NAME] \
#                    [--config agent.yaml] [--policy policy.yaml] [--supervisor auto|systemd|plain] [--no-start]
#   install-agent.sh --binary ./cordon-agent ...   # a bare binary instead of a package
#   install-agent.sh --probe [--segment NAME]      # what is installed; changes nothing
#
# Packages come from scripts/package: the .deb (with dpkg: /usr/bin/cordon-agent and the
# package's unit) or the tarball (elsewhere: /usr/local/bin/cordon-agent). --sha256 is always the
# SHA-256 of the agent binary itself. The state directory and the enrollment survive upgrades.
#
# Re-running it is safe: the binary, config, policy and unit are replaced only when they differ
# (atomically), an enrolled agent is not enrolled again, and the agent is restarted only when
# something it runs with changed (or started when it is not running). The last line of output is
# machine-readable for `cordon rollout` and the Ansible role: CORDON-INSTALL {json}.
set -euo pipefail
umask 022

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

binary="" package="" sha256="" coordinator="" token="" token_file="" fingerprint="" config="" policy="" segment="" hostname_opt=""
supervisor=auto start=1 probe=0
prefix=/usr/local/bin etc=/etc/cordon state=/var/lib/cordon-agent unitdir=/etc/systemd/system
rundir=/run/cordon-agent logdir=/var/log/cordon-agent
here=$(cd "$(dirname "$0")" 2>/dev/null && pwd || echo .)

while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --package) package=$2; shift 2 ;;
    --sha256) sha256=$2; shift 2 ;;
    --coordinator) coordinator=$2; shift 2 ;;
    --token) token=$2; shift 2 ;;
    --token-file) token_file=$2; shift 2 ;;
    --ca-fingerprint) fingerprint=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --policy) policy=$2; shift 2 ;;
    --segment) segment=$2; shift 2 ;;
    --hostname) hostname_opt=$2; shift 2 ;;
    --supervisor) supervisor=$2; shift 2 ;;
    --no-systemd) supervisor=plain; shift ;;
    --no-start) start=0; shift ;;
    --probe) probe=1; shift ;;
    --prefix) prefix=$2; shift 2 ;;
    --etc) etc=$2; shift 2 ;;
    --state-dir) state=$2; shift 2 ;;
    --unit-dir) unitdir=$2; shift 2 ;;
    --run-dir) rundir=$2; shift 2 ;;
    --log-dir) logdir=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "install-agent.sh: unknown option $1" >&2; usage ;;
  esac
done

# The Debian package owns /usr/bin/cordon-agent, its unit and its supervisor script; without
# it, this script puts them under --prefix and --unit-dir.
deb_installed() {
  command -v dpkg-query >/dev/null 2>&1 && [ "$(dpkg-query -W -f='${Status}' cordon-agent 2>/dev/null)" = "install ok installed" ]
}
case "$package" in *.deb) layout=deb ;; *) if [ -z "$package$binary" ] && deb_installed; then layout=deb; else layout=files; fi ;; esac
if [ "$layout" = deb ]; then
  agent=/usr/bin/cordon-agent
  sup=/usr/share/cordon-agent/cordon-agent-supervise
  unit=/lib/systemd/system/cordon-agent.service
else
  agent="$prefix/cordon-agent"
  sup="$prefix/cordon-agent-supervise"
  unit="$unitdir/cordon-agent.service"
fi
pidfile="$rundir/supervise.pid"
log="$logdir/agent.log"

# --- State, as JSON on the last line ---------------------------------------------------------

# A JSON string, or null when empty. Quotes, backslashes and control characters are dropped.
js() {
  if [ -z "${1:-}" ]; then printf 'null'; return; fi
  printf '"%s"' "$(printf '%s' "$1" | tr -d '"\\' | tr -d '\000-\037' | cut -c1-300)"
}
jb() { if [ "${1:-0}" = 1 ]; then printf 'true'; else printf 'false'; fi; }
sha_of() { [ -f "$1" ] && sha256sum "$1" 2>/dev/null | cut -d' ' -f1 || true; }
# A key of enrollment.json (flat JSON the agent writes).
enrollment_field() {
  [ -r "$state/enrollment.json" ] || return 0
  grep -o "\"$1\" *: *\"[^\"]*\"" "$state/enrollment.json" | head -n1 | sed 's/^[^:]*: *"//; s/"$//'
}
has_systemd() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

# PID of the plain supervisor when it runs (checked by its command line, not only the pid file).
supervisor_pid() {
  local pid
  [ -r "$pidfile" ] || return 1
  read -r pid < "$pidfile" 2>/dev/null || return 1
  case "$pid" in ''|*[!0-9]*) return 1 ;; esac
  grep -qa 'cordon-agent-supervise' "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

# The PID of the running agent, by whichever supervisor runs it.
agent_pid() {
  local pid=""
  if has_systemd && [ -f "$unit" ] && systemctl is-active --quiet cordon-agent.service 2>/dev/null; then
    pid=$(systemctl show -p MainPID --value cordon-agent.service 2>/dev/null || true)
  elif spid=$(supervisor_pid); then
    [ -r "$rundir/agent.pid" ] && read -r pid < "$rundir/agent.pid" 2>/dev/null || true
    if [ -n "$pid" ] && ! grep -qa 'cordon-agent' "/proc/$pid/cmdline" 2>/dev/null; then pid=""; fi
    [ -n "$pid" ] || pid=$spid
  fi
  case "$pid" in ''|0|*[!0-9]*) return 1 ;; esac
  echo "$pid"
}

emit() { # result message
  local result=${1:-} message=${2:-} sd=0 sv="" inst=0 sha="" ver="" enr=0 id="" seg="" fp="" run=0 pid="" host os=""
  has_systemd && sd=1
  if [ "$layout" = deb ]; then
    # The package always ships the unit: set up means enabled.
    if [ "$sd" = 1 ] && systemctl is-enabled --quiet cordon-agent.service 2>/dev/null; then sv=systemd; elif [ "$sd" = 0 ] && [ -x "$sup" ]; then sv=plain; fi
  elif [ -f "$unit" ] && [ "$sd" = 1 ]; then sv=systemd; elif [ -x "$sup" ]; then sv=plain; fi
  if [ -x "$agent" ]; then
    inst=1
    sha=$(sha_of "$agent")
    # "0.1.0 (commit 0123456789ab)": the version is the first word.
    ver=$(timeout 10 "$agent" --version 2>/dev/null | head -n1 | awk '{print $1}' | tr -cd 'A-Za-z0-9._+-' || true)
  fi
  if [ -f "$state/enrollment.json" ]; then
    enr=1; id=$(enrollment_field agentID); seg=$(enrollment_field segment); fp=$(enrollment_field caFingerprint)
  fi
  if pid=$(agent_pid); then run=1; else pid=""; fi
  host=$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)
  [ -r /etc/os-release ] && os=$(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-}")
  printf 'CORDON-INSTALL {"result":%s,"message":%s,"hostname":%s,"os":%s,"systemd":%s,"supervisor":%s,' \
    "$(js "$result")" "$(js "$message")" "$(js "$host")" "$(js "$os")" "$(jb $sd)" "$(js "$sv")"
  printf '"installed":%s,"sha256":%s,"version":%s,"enrolled":%s,"agentID":%s,"segment":%s,"caFingerprint":%s,' \
    "$(jb $inst)" "$(js "$sha")" "$(js "$ver")" "$(jb $enr)" "$(js "$id")" "$(js "$seg")" "$(js "$fp")"
  printf '"running":%s,"pid":%s,"configSHA256":%s,"policySHA256":%s,"superviseSHA256":%s,"unitSHA256":%s,"tokenOnCommandLine":%s,' \
    "$(jb $run)" "${pid:-null}" "$(js "$(sha_of "$etc/agent.yaml")")" "$(js "$(sha_of "$etc/policy.yaml")")" \
    "$(js "$(sha_of "$sup")")" "$(js "$(sha_of "$unit")")" "$(jb "${token_on_cli:-0}")"
  # How the agent got here ("deb": the Debian package owns its files; "files": this script's), and
  # whether dpkg is there (the rollout and the Ansible role then send the .deb, else the tarball).
  local pk=files dp=0
  [ "$layout" = deb ] && deb_installed && pk=deb
  [ "$inst" = 1 ] || pk=""
  command -v dpkg >/dev/null 2>&1 && dp=1
  printf '"package":%s,"dpkg":%s}\n' "$(js "$pk")" "$(jb $dp)"
}

fail() {
  echo "install-agent.sh: $*" >&2
  emit failed "$*"
  exit 1
}

if [ "$probe" = 1 ]; then
  emit "" ""
  exit 0
fi

# --- Install ---------------------------------------------------------------------------------

[ "$(id -u)" -eq 0 ] || fail "run as root"
if [ -n "$token_file" ]; then
  # The token never goes on this script's command line: it comes in a 0600 file, removed here.
  [ -f "$token_file" ] || fail "--token-file $token_file is not a file"
  token=$(head -c 4096 "$token_file" | tr -d ' \r\n\t')
  rm -f "$token_file"
fi

case "$supervisor" in
  auto) if has_systemd; then mode=systemd; else mode=plain; fi ;;
  systemd) has_systemd || fail "--supervisor systemd: systemd does not run this host"; mode=systemd ;;
  plain) mode=plain ;;
  *) fail "--supervisor must be auto, systemd or plain" ;;
esac

changed_binary=0 changed_run=0 did="" how=""
previous_sha=$(sha_of "$agent")
[ -n "$previous_sha" ] || previous_sha=$(sha_of "$prefix/cordon-agent")

if [ -n "$package" ] && [ -n "$binary" ]; then fail "give --package or --binary, not both"; fi
if [ -n "$package" ]; then
  [ -f "$package" ] || fail "--package $package is not a file"
  case "$package" in
    *.deb)
      command -v dpkg >/dev/null 2>&1 || fail "no dpkg on this host: give the tarball (cordon-agent_VERSION_linux_ARCH.tar.gz)"
      pkg_sha=$(dpkg-deb --fsys-tarfile "$package" | tar -xOf - ./usr/bin/cordon-agent | sha256sum | cut -d' ' -f1)
      [ "$pkg_sha" != "$(printf '' | sha256sum | cut -d' ' -f1)" ] || fail "$package has no /usr/bin/cordon-agent: not a cordon-agent package"
      if [ -n "$sha256" ] && [ "$pkg_sha" != "$sha256" ]; then
        fail "the agent in $package has SHA-256 $pkg_sha, expected $sha256: the copy is damaged or not the one sent"
      fi
      if ! deb_installed || [ "$(sha_of "$agent")" != "$pkg_sha" ]; then
        # Unpacked and configured by dpkg: its postinst starts nothing that is not enrolled and
        # restarts an enrolled, running agent; /var/lib/cordon-agent is kept as it is.
        out=$(DEBIAN_FRONTEND=noninteractive dpkg -i "$package" 2>&1) || fail "dpkg -i $package failed: $(printf '%s' "$out" | tail -n1)"
        changed_binary=1
        if [ -n "$previous_sha" ]; then did=upgraded; else did=installed; fi
        how="$did $(basename "$package") with dpkg"
        echo "$how: $agent, $unit"
        # What an install without the package left would shadow the package's files: remove it.
        if [ -f "$prefix/cordon-agent" ]; then rm -f "$prefix/cordon-agent"; echo "removed $prefix/cordon-agent (now from the package)"; fi
        if [ -f "$unitdir/cordon-agent.service" ] && grep -q 'Cordon agent' "$unitdir/cordon-agent.service"; then
          rm -f "$unitdir/cordon-agent.service"; echo "removed $unitdir/cordon-agent.service (now from the package)"
          has_systemd && systemctl daemon-reload
        fi
      fi
      [ "$(sha_of "$agent")" = "$pkg_sha" ] || fail "after dpkg -i, $agent is not the package's binary"
      ;;
    *.tar.gz|*.tgz)
      deb_installed && fail "cordon-agent is installed from the Debian package here: give the .deb (or remove the package first)"
      unpacked=$(mktemp -d "${TMPDIR:-/tmp}/cordon-agent-package.XXXXXX")
      trap 'rm -rf "$unpacked"' EXIT
      tar -xzf "$package" -C "$unpacked" --no-same-owner || fail "cannot unpack $package"
      dir=$(find "$unpacked" -mindepth 1 -maxdepth 1 -type d | head -n1)
      [ -n "$dir" ] && [ -f "$dir/cordon-agent" ] && [ -f "$dir/systemd/cordon-agent.service" ] && [ -f "$dir/cordon-agent-supervise" ] \
        || fail "$package is not a cordon-agent tarball (scripts/package makes one)"
      echo "installing from $(basename "$package") (tarball): $agent"
      how="from $(basename "$package") (tarball)"
      # The binary, unit, supervisor and example config of the tarball, as if given beside this script.
      binary=$dir/cordon-agent
      here=$dir
      ;;
    *) fail "--package must be a .deb or a .tar.gz from scripts/package" ;;
  esac
fi
# Only made when missing: an existing /usr/local/bin keeps its owner and mode.
[ -d "$prefix" ] || install -d -m 0755 -o root -g root "$prefix"

# Replaces DEST with SRC (mode, owner root) when they differ; returns 0 when it changed.
replace() { # src dest mode
  if [ -f "$2" ] && cmp -s "$1" "$2"; then
    chmod "$3" "$2"; chown root:root "$2"
    return 1
  fi
  install -m "$3" -o root -g root "$1" "$2.cordon-new"
  mv -f "$2.cordon-new" "$2"
  return 0
}

if [ -n "$binary" ]; then
  [ -f "$binary" ] || fail "--binary $binary is not a file"
  if [ -n "$sha256" ]; then
    got=$(sha_of "$binary")
    [ "$got" = "$sha256" ] || fail "SHA-256 of $binary is $got, expected $sha256: the copy is damaged or not the one sent"
  fi
  if ! cmp -s "$binary" "$agent" 2>/dev/null; then
    # Copied next to its final place first (the upload directory may be noexec), checked to run,
    # then renamed over the old one: a running agent keeps its inode until it restarts.
    install -m 0755 -o root -g root "$binary" "$agent.cordon-new"
    timeout 20 "$agent.cordon-new" --version >/dev/null 2>&1 || { rm -f "$agent.cordon-new"; fail "the new binary does not run here ($binary)"; }
    mv -f "$agent.cordon-new" "$agent"
    changed_binary=1
    if [ -n "$previous_sha" ]; then did=upgraded; echo "upgraded $agent"; else did=installed; echo "installed $agent"; fi
    [ -z "$how" ] || how="$did $how"
  else
    how=""
  fi
elif [ -z "$package" ]; then
  [ -x "$agent" ] || fail "no agent installed at $agent: give --package or --binary"
  if [ -n "$sha256" ] && [ "$(sha_of "$agent")" != "$sha256" ]; then
    fail "the installed $agent has SHA-256 $(sha_of "$agent"), not $sha256: give --package or --binary to replace it"
  fi
fi

install -d -m 0755 -o root -g root "$etc"
install -d -m 0700 -o root -g root "$state"
if [ -n "$config" ]; then
  [ -f "$config" ] || fail "--config $config is not a file"
  if replace "$config" "$etc/agent.yaml" 0644; then changed_run=1; echo "wrote $etc/agent.yaml"; fi
elif [ ! -f "$etc/agent.yaml" ]; then
  [ -f "$here/agent.yaml.example" ] || fail "no --config and no agent.yaml.example beside the script"
  sed "s#^stateDir: .*#stateDir: $state#" "$here/agent.yaml.example" > "$etc/agent.yaml.cordon-new"
  chmod 0644 "$etc/agent.yaml.cordon-new"
  mv -f "$etc/agent.yaml.cordon-new" "$etc/agent.yaml"
  changed_run=1
fi
if [ -n "$policy" ]; then
  [ -f "$policy" ] || fail "--policy $policy is not a file"
  # Read again for every task list: no restart needed.
  if replace "$policy" "$etc/policy.yaml" 0644; then [ -n "$did" ] || did=repaired; echo "wrote $etc/policy.yaml"; fi
fi

# Enrollment: once. An agent enrolled elsewhere is never re-enrolled by this script.
token_on_cli=0
if [ -f "$state/enrollment.json" ]; then
  enrolled_segment=$(enrollment_field segment)
  enrolled_fp=$(enrollment_field caFingerprint)
  if [ -n "$segment" ] && [ "$enrolled_segment" != "$segment" ]; then
    fail "already enrolled in segment $enrolled_segment, not $segment: revoke it and move $state aside to re-enroll"
  fi
  norm() { printf '%s' "$1" | tr 'A-F' 'a-f' | sed 's/^sha256://I; s/://g'; }
  if [ -n "$fingerprint" ] && [ "$(norm "$enrolled_fp")" != "$(norm "$fingerprint")" ]; then
    fail "already enrolled with another coordinator CA ($enrolled_fp): move $state aside to re-enroll"
  fi
else
  [ -n "$coordinator" ] && [ -n "$token" ] && [ -n "$fingerprint" ] \
    || fail "to enroll, give --coordinator, --token-file and --ca-fingerprint"
  enroll=("$agent" enroll --config "$etc/agent.yaml" --state-dir "$state" --coordinator "$coordinator" --ca-fingerprint "$fingerprint")
  [ -n "$hostname_opt" ] && enroll+=(--hostname "$hostname_opt")
  if case "$("$agent" enroll --help 2>&1 || true)" in *--token-file*) true ;; *) false ;; esac; then
    tf=$(mktemp "${TMPDIR:-/tmp}/cordon-token.XXXXXXXX")
    chmod 0600 "$tf"
    printf '%s\n' "$token" > "$tf"
    out=$("${enroll[@]}" --token-file "$tf" 2>&1) || { rm -f "$tf"; fail "enrollment failed: $(printf '%s' "$out" | tail -n1)"; }
    rm -f "$tf"
  else
    # This agent takes the token on its command line only: visible in ps while it enrolls (a
    # second or so). The token is single-use and short-lived.
    token_on_cli=1
    out=$("${enroll[@]}" --token "$token" 2>&1) || fail "enrollment failed: $(printf '%s' "$out" | tail -n1)"
  fi
  echo "$out"
  [ -n "$segment" ] && [ "$(enrollment_field segment)" != "$segment" ] \
    && fail "enrolled in segment $(enrollment_field segment), but $segment was expected: the token was for another segment"
  changed_run=1
  [ -n "$did" ] || did=repaired
fi
token=""

# --- Supervisor ------------------------------------------------------------------------------

if [ "$mode" = systemd ]; then
  if [ "$layout" = deb ]; then
    [ -f "$unit" ] || fail "the cordon-agent package has no $unit"
  else
    [ -f "$here/systemd/cordon-agent.service" ] || fail "no systemd/cordon-agent.service beside the script"
    if replace "$here/systemd/cordon-agent.service" "$unit" 0644; then systemctl daemon-reload; changed_run=1; fi
  fi
  # A plain supervisor from before systemd came: stop it.
  if spid=$(supervisor_pid); then
    if [ -f "$sup" ]; then sh "$sup" --stop --pid-file "$pidfile" || true; else sh "$here/cordon-agent-supervise" --stop --pid-file "$pidfile" || true; fi
  fi
  if [ "$start" = 1 ]; then
    systemctl enable --quiet cordon-agent.service
    if [ "$changed_binary" = 1 ] || [ "$changed_run" = 1 ]; then
      systemctl restart cordon-agent.service; echo "cordon-agent.service (re)started"
      [ -n "$did" ] || did=repaired
    elif ! systemctl is-active --quiet cordon-agent.service; then
      systemctl start cordon-agent.service; echo "cordon-agent.service started"
      [ -n "$did" ] || did=repaired
    fi
  fi
else
  if [ "$layout" != deb ]; then
    [ -f "$here/cordon-agent-supervise" ] || fail "no cordon-agent-supervise beside the script"
    if replace "$here/cordon-agent-supervise" "$sup" 0755; then changed_run=1; fi
  fi
  install -d -m 0755 -o root -g root "$rundir"
  install -d -m 0750 -o root -g root "$logdir"
  if [ "$start" = 1 ]; then
    restart=0
    if spid=$(supervisor_pid); then
      if [ "$changed_binary" = 1 ] || [ "$changed_run" = 1 ]; then
        "$sup" --stop --pid-file "$pidfile" || fail "cannot stop the running supervisor (PID $spid)"
        restart=1
      fi
    else
      restart=1
    fi
    if [ "$restart" = 1 ]; then
      echo "no systemd here: running the agent under $sup (pid file $pidfile, log $log)"
      # Detached: its own session, no terminal, nothing of this shell (an SSH session) held open.
      case "$(setsid --help 2>&1)" in
        *--fork*) setsid -f "$sup" --pid-file "$pidfile" --log "$log" -- "$agent" run --config "$etc/agent.yaml" < /dev/null > /dev/null 2>&1 ;;
        *) setsid "$sup" --pid-file "$pidfile" --log "$log" -- "$agent" run --config "$etc/agent.yaml" < /dev/null > /dev/null 2>&1 & ;;
      esac
      for _ in $(seq 1 50); do agent_pid >/dev/null && break; sleep 0.1; done
      agent_pid >/dev/null || fail "the supervisor did not start the agent (log: $log)"
      [ -n "$did" ] || did=repaired
    fi
  fi
fi

emit "${did:-unchanged}" "$how"
