# Real sshd on the lab's jump hosts, for `cordon rollout` and the Ansible role. Sourced by
# Deploy/lab/up (--sshd) and Deploy/lab/sshd (adds it to a running lab). Needs lib.sh first.
#
# Network namespaces share the file system, so a rollout that installs to /usr/local/bin,
# /etc/cordon and /var/lib/cordon-agent on two jump hosts would write the same files, and the
# machine's own. Each jump host's sshd therefore runs in a mount (and UTS) namespace of its own,
# built before sshd starts:
#   /run           a fresh tmpfs (sshd's privilege-separation dir /run/sshd, the agent's pid files)
#   /run/lab       the host's sshd files: config, host key, authorized_keys (bind of STATE/sshd/NS/conf)
#   /etc /usr/local /var /root
#                  overlays: the machine's files read-only below, every write goes to
#                  STATE/sshd/NS/upper/... (so /etc/cordon, /usr/local/bin/cordon-agent,
#                  /var/lib/cordon-agent, /root/.ssh and ~/.ansible are the host's own)
#   /tmp           a fresh tmpfs
#   hostname       NS
# Everything a session does lands there; nothing of the machine's own /etc, /usr/local, /var,
# /root or /tmp changes. The mounts go away with the namespace's last process. sshd runs under
# `timeout` (the lab's TTL) with a pid file in STATE/pids like every lab server, and sets
# CORDON_SUPERVISE_DEADLINE for its sessions: cordon-agent-supervise (the agent's plain
# supervisor where no systemd runs, as here) stops by itself when the lab expires.

SSHD_BIN=${SSHD_BIN:-/usr/sbin/sshd}

sshd_check_tools() {
  local t missing=()
  for t in "$SSHD_BIN" ssh-keygen unshare mount; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
  [ ${#missing[@]} -eq 0 ] || die "--sshd needs: ${missing[*]} (Debian: openssh-server openssh-client util-linux mount)"
  grep -qw overlay /proc/filesystems 2>/dev/null || die "--sshd needs overlayfs (each jump host gets its own /etc, /usr/local, /var, /root)"
  id sshd >/dev/null 2>&1 || die "--sshd needs the sshd privilege-separation user (Debian's openssh-server creates it)"
  local real d
  real=$(realpath -m "$STATE")
  for d in /etc /usr/local /var /root; do
    case "$real/" in "$d"/*) die "--sshd: the state dir $real must not be under $d (it becomes an overlay in the jump hosts)" ;; esac
  done
}

# The lab's SSH key (root may log in to every jump host with it).
sshd_make_key() {
  mkdir -p "$STATE/ssh"
  chmod 0700 "$STATE/ssh"
  [ -f "$STATE/ssh/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "cordon-lab-$PREFIX" -f "$STATE/ssh/id_ed25519"
}

# Starts sshd in jump namespace NS on ADDRESS:22; stops by itself after TTL seconds.
start_sshd() { # ns address ttl-seconds deadline-epoch
  local ns=$1 addr=$2 ttl=$3 deadline=$4
  local dir="$STATE/sshd/$ns" d
  mkdir -p "$dir/conf"
  chmod 0700 "$dir" "$dir/conf"
  for d in etc usr/local var root; do mkdir -p "$dir/upper/$d" "$dir/work/$d"; done
  [ -f "$dir/conf/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C "$ns" -f "$dir/conf/ssh_host_ed25519_key"
  install -m 0600 "$STATE/ssh/id_ed25519.pub" "$dir/conf/authorized_keys"
  cat > "$dir/conf/sshd_config" <<EOF
# sshd of lab jump host $ns (Deploy/lab/sshd.sh); paths are inside its mount namespace.
ListenAddress $addr:22
HostKey /run/lab/ssh_host_ed25519_key
PidFile /run/lab/sshd.pid
AuthorizedKeysFile /run/lab/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PrintMotd no
X11Forwarding no
AllowAgentForwarding no
PermitUserEnvironment no
LoginGraceTime 30
MaxStartups 32:30:64
ClientAliveInterval 15
ClientAliveCountMax 4
Subsystem sftp internal-sftp
SetEnv CORDON_SUPERVISE_DEADLINE=$deadline
EOF
  cat > "$dir/start.sh" <<EOF
#!/bin/sh
# Builds the jump host's own file system view, then becomes sshd. Run by unshare --mount --uts.
set -eu
H='$dir'
mount -t tmpfs -o mode=0755,size=64m cordonlab-run /run
mkdir -p /run/sshd /run/lab
chmod 0755 /run/sshd
mount --bind "\$H/conf" /run/lab
for d in etc usr/local var root; do
  mount -t overlay cordonlab-\$(echo \$d | tr / -) -o "lowerdir=/\$d,upperdir=\$H/upper/\$d,workdir=\$H/work/\$d" "/\$d"
done
mount -t tmpfs -o mode=1777,size=2g cordonlab-tmp /tmp
hostname '$ns'
exec $SSHD_BIN -D -e -f /run/lab/sshd_config
EOF
  local log="$STATE/logs/$ns.sshd.log" pidfile="$STATE/pids/$ns.sshd.pid"
  ip netns exec "$ns" timeout --kill-after=15s "${ttl}s" unshare --mount --uts --propagation private -- sh "$dir/start.sh" < /dev/null > "$log" 2>&1 &
  local pid=$!
  echo "$pid $(proc_start_time "$pid" || echo 0)" > "$pidfile"
  PROCESSES+=("{\"namespace\":\"$ns\",\"name\":\"sshd\",\"pid\":$pid,\"pidFile\":\"$pidfile\",\"log\":\"$log\"}")
  local i
  for i in $(seq 1 100); do
    [ -n "$(ip netns exec "$ns" ss -Hltn "sport = :22" 2>/dev/null)" ] && break
    [ -e "/proc/$pid" ] || break
    sleep 0.1
  done
  [ -n "$(ip netns exec "$ns" ss -Hltn "sport = :22" 2>/dev/null)" ] || die "sshd in $ns is not listening on $addr:22 (log: $log)"
  local fp
  fp=$(ssh-keygen -l -f "$dir/conf/ssh_host_ed25519_key.pub" | awk '{print $2}')
  SSHD_HOSTS+=("{\"namespace\":\"$ns\",\"address\":\"$addr\",\"port\":22,\"hostKey\":\"$dir/conf/ssh_host_ed25519_key.pub\",\"hostKeyFingerprint\":\"$fp\",\"root\":\"$dir/upper\",\"pid\":$pid}")
}

# Writes STATE/sshd.json: the key, the user, and each jump host's sshd.
write_sshd_json() {
  local hosts
  hosts=$(IFS=,; echo "${SSHD_HOSTS[*]}")
  cat > "$STATE/sshd.json.tmp" <<EOF
{"version":1,"user":"root","key":"$STATE/ssh/id_ed25519","publicKey":"$STATE/ssh/id_ed25519.pub","hosts":[$hosts]}
EOF
  mv "$STATE/sshd.json.tmp" "$STATE/sshd.json"
}
