# Shared by Deploy/lab/up and Deploy/lab/down. Sourced, not run.
#
# Lab rules (DESIGN.md, "The lab"): every namespace is ours (named "<prefix>-..."), has no
# default route and only 198.18.0.0/15 addresses; nothing is added to the root namespace;
# every process is started inside a lab namespace under `timeout` and stopped by its PID.

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$LAB_DIR/../.." && pwd)

die() { echo "lab: $*" >&2; exit 1; }
say() { [ "${LAB_QUIET:-0}" = 1 ] || echo "lab: $*" >&2; }

need_root() {
  [ "$(id -u)" -eq 0 ] || die "run as root (network namespaces, ports below 1024)"
}

# A prefix is a short lower-case word: namespaces are "<prefix>-...", so a prefix never matches
# another lab's namespaces.
check_prefix() {
  [[ "$1" =~ ^[a-z][a-z0-9]{0,15}$ ]] || die "prefix '$1' must be 1-16 lower-case letters and digits, starting with a letter"
}

# The lab's namespaces that exist now.
lab_namespaces() { # prefix
  ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$1-" || true
}

# Seconds from "90", "90s", "30m", "4h", "1d".
parse_seconds() {
  local v=$1
  case $v in
    *[!0-9smhd]*|'') return 1 ;;
  esac
  if [[ $v =~ ^[0-9]+$ ]]; then echo "$v"; return 0; fi
  if [[ $v =~ ^([0-9]+)([smhd])$ ]]; then
    local n=${BASH_REMATCH[1]} u=${BASH_REMATCH[2]}
    case $u in s) echo "$n" ;; m) echo $((n * 60)) ;; h) echo $((n * 3600)) ;; d) echo $((n * 86400)) ;; esac
    return 0
  fi
  return 1
}

# Start time of a process (field 22 of /proc/PID/stat), to tell it from a later process that got
# the same PID.
proc_start_time() { # pid
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }          # drop "pid (comm) "; comm may hold spaces
  set -- $stat
  echo "${20}"               # field 22 overall = 20th after pid and comm
}

# True while PID is alive and still the process that started at START (a zombie is gone).
same_alive() { # pid start
  local stat state
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  state=${stat%% *}
  [ "$state" != Z ] && [ "$(proc_start_time "$1")" = "$2" ]
}

# Stops the processes we started, if they are still the same processes: TERM to all, up to 5 s
# for them to go, then KILL. Arguments are "PID:START:LABEL" words.
stop_processes() {
  local item pid start label waiting
  local -a live=()
  for item in "$@"; do
    IFS=: read -r pid start label <<< "$item"
    [[ "$pid" =~ ^[0-9]+$ ]] || continue
    if [ -z "$start" ]; then start=$(proc_start_time "$pid") || continue; fi
    if same_alive "$pid" "$start"; then
      kill -TERM "$pid" 2>/dev/null && live+=("$pid:$start:$label")
    elif [ -e "/proc/$pid" ] && [ "$(proc_start_time "$pid")" != "$start" ]; then
      say "not stopping PID $pid ($label): it is another process now"
    fi
  done
  for _ in $(seq 1 50); do
    waiting=0
    for item in "${live[@]}"; do
      IFS=: read -r pid start label <<< "$item"
      same_alive "$pid" "$start" && waiting=1
    done
    [ "$waiting" = 1 ] || return 0
    sleep 0.1
  done
  for item in "${live[@]}"; do
    IFS=: read -r pid start label <<< "$item"
    if same_alive "$pid" "$start"; then
      say "PID $pid ($label) ignored SIGTERM; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

# Stops every process started by `up` (pid files), then whatever is still running inside the
# lab's namespaces (children of those, by PID), then deletes the namespaces.
teardown() { # prefix state-dir(may be empty)
  local prefix=$1 state=$2 f pid start ns round
  local -a items=()
  if [ -n "$state" ] && [ -d "$state/pids" ]; then
    for f in "$state"/pids/*.pid; do
      [ -e "$f" ] || continue
      pid="" start=""
      read -r pid start < "$f" || true
      # A start time of 0 means it was not read at launch: then the PID is checked by namespace below.
      [ "$start" = 0 ] && start=""
      [ -n "$start" ] && items+=("$pid:$start:$(basename "$f" .pid)")
    done
    stop_processes "${items[@]}"
    rm -f "$state"/pids/*.pid
  fi
  # Whatever still runs inside the lab's namespaces (children, helpers) is ours too.
  for round in 1 2 3; do
    items=()
    for ns in $(lab_namespaces "$prefix"); do
      for pid in $(ip netns pids "$ns" 2>/dev/null || true); do
        start=$(proc_start_time "$pid") && items+=("$pid:$start:$ns")
      done
    done
    [ ${#items[@]} -gt 0 ] || break
    stop_processes "${items[@]}"
  done
  for ns in $(lab_namespaces "$prefix"); do
    ip netns del "$ns" 2>/dev/null || say "could not delete namespace $ns"
  done
  local left
  left=$(lab_namespaces "$prefix")
  [ -z "$left" ] || die "namespaces left behind: $left"
}
