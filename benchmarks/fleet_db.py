#!/usr/bin/env python3
"""Fills a coordinator database (made and migrated by `cordon serve`) with a synthetic fleet.

For benchmarks/status-query.sh: AGENTS agents over SEGMENTS segments, HOSTS_PER_AGENT scanned
hosts per agent with their services, FINDINGS findings (most resolved, OPEN_PERCENT open) with
real detection IDs, SCANS_PER_AGENT scan rows per agent. Rows are written the way the
coordinator writes them: dates as GRDB stores a Date ("YYYY-MM-DD HH:MM:SS.SSS", UTC text),
booleans as 0/1, agent IDs "agt-" + 16 hex, scan findings' subject "host:ADDRESS" and item
"PROTO/PORT", jump-host findings' subject "agent:ID" with items "account:", "task:", "source:",
"firewall:". Every NOT NULL and unique constraint holds and every agentID names an agent.

Addresses are strings in 198.18.0.0/15 (benchmark space; nothing is contacted). Each segment
gets a block of that range as its recorded scope; a fleet with more hosts than the /15 holds
reuses the range in several segments, as sites that number their networks alike do (the host
table is keyed by segment and address).

Not written: reports, inventories, changes, tasks, secrets (the status and findings views do not
read them). No ANALYZE is run, as the coordinator runs none.

Run it while no coordinator has the database open. Python 3 standard library only.

usage: fleet_db.py DB [--agents N] [--segments N] [--findings N] [--open-percent P]
                      [--hosts-per-agent N] [--services-per-host X] [--scans-per-agent N]
                      [--jumphost-percent P] [--seed N]
       fleet_db.py DB --touch-agents
"""

import argparse
import datetime as dt
import json
import os
import random
import sqlite3
import sys
import time

# Scan detections (DetectionCatalogue, source .scan) with the ports they are reported on, and how
# often a host shows one in this synthetic fleet (relative weights: exposures common, IOCs rare).
SCAN_COMBOS = [
    # (detectionID, proto, port, weight, evidence)
    ("conficker.smb-exposed", "tcp", 445, 30, "SMB answers on TCP 445 (SMB 2.1, SMB 2.0.2); "),
    ("conficker.smb-exposed", "tcp", 139, 8, "SMB answers on TCP 139 (NT LM 0.12); "),
    ("wannacry.smbv1-enabled", "tcp", 445, 20, "SMB1-only NEGOTIATE accepted: dialect NT LM 0.12"),
    ("blaster.rpc-exposed", "tcp", 135, 25, "DCE/RPC bind to IRemoteActivation accepted on TCP 135"),
    ("zotob.null-session", "tcp", 445, 6, "anonymous session setup succeeded and tree connect to IPC$ succeeded"),
    ("wannacry.ms17-010-unpatched", "tcp", 445, 6,
     "PeekNamedPipe on FID 0 answered STATUS_INSUFF_SERVER_RESOURCES: MS17-010 missing (inferred from that status, not exploited)"),
    ("codered.iis-exposed", "tcp", 80, 10, "Server: Microsoft-IIS/5.0 (HTTP 200 to GET /"),
    ("codered.iis-exposed", "tcp", 8080, 3, "Server: Microsoft-IIS/5.0 (HTTP 200 to GET /"),
    ("codered.ida-mapping", "tcp", 80, 3, "GET /NULL.ida answered by the Index Server ISAPI handler: HTTP 200"),
    ("conficker.p2p-reply", "udp", 21843, 1.5,
     "valid Conficker.C P2P reply on udp/21843: decrypted, checksum correct, flags 0x0, sysinfo Windows 5.1 build 2600 SP2"),
    ("conficker.p2p-reply", "tcp", 21844, 1, "valid Conficker.C P2P reply on tcp/21844: decrypted, checksum correct, flags 0x0"),
    ("wannacry.doublepulsar", "tcp", 445, 0.8,
     "Trans2 SESSION_SETUP with MID 65 answered with MID 81 (STATUS_NOT_IMPLEMENTED): DoublePulsar ping reply"),
    ("codered.rootexe-present", "tcp", 80, 0.6, "GET /scripts/root.exe (no command run): HTTP 200, 'Directory of C:\\inetpub\\scripts'"),
    ("blaster.shell-4444", "tcp", 4444, 0.6, "banner on TCP 4444: 'Microsoft Windows XP [Version 5.1.2600]'"),
    ("blaster.tftp-69", "udp", 69, 0.5, "TFTP DATA block 1 (512 bytes)"),
    ("zotob.shell-8888", "tcp", 8888, 0.4, "banner on TCP 8888: 'Microsoft Windows 2000 [Version 5.00.2195]'"),
    ("zotob.ftp-33333", "tcp", 33333, 0.4, "banner on TCP 33333: '220 StnyFtpd 0wns j0'"),
]

# Jump-host detections (source .inventory): (detectionID, item prefix, weight, evidence).
JUMPHOST = [
    ("jumphost.failed-logon-burst", "source", 40, "sshd: {n} failed logons in 10 min from {src}"),
    ("jumphost.new-scheduled-task", "task", 25, "cron job not in the baseline: /etc/cron.d/{name}"),
    ("jumphost.task-writable-path", "task", 10, "runs /tmp/.{name}/run.sh from a world-writable directory"),
    ("jumphost.password-age", "account", 15, "password last changed {n} days ago (policy: 90)"),
    ("jumphost.empty-password", "account", 3, "account has an empty password hash in /etc/shadow"),
    ("jumphost.unexpected-uid0", "account", 2, "UID 0 account not in the allow-list"),
    ("jumphost.worm-ports-unblocked", "firewall", 5, "inbound TCP 135, 139, 445 not dropped by the nftables ruleset"),
]

# Ports a host of each kind answers on (service rows), with nmap-style service names.
SERVICE_NAMES = {135: "msrpc", 139: "netbios-ssn", 445: "microsoft-ds", 80: "http", 8080: "http-proxy", 3389: "ms-wbt-server",
                 22: "ssh", 443: "https", 69: "tftp", 4444: "krb524", 8888: "sun-answerbook", 33333: "dgluster", 21843: "unknown",
                 21844: "unknown", 137: "netbios-ns", 1025: "NFS-or-IIS"}
OS_GUESSES = [("Windows XP", 10), ("Windows 7", 20), ("Windows 10", 35), ("Windows Server 2003", 5), ("Windows Server 2016", 10),
              ("Linux 4.x", 10), (None, 10)]

SEGMENT_SPACE = 1 << 17  # 198.18.0.0/15
SPACE_BASE = (198 << 24) | (18 << 16)


def grdb_date(t):
    """A Unix time as GRDB stores a Date: UTC text with milliseconds."""
    ms = int(round(t * 1000))
    s, ms = divmod(ms, 1000)
    return dt.datetime.fromtimestamp(s, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S") + ".%03d" % ms


def dotted(n):
    return "%d.%d.%d.%d" % (n >> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255)


def weighted_orders(rng, combos, weights, count):
    """`count` random orderings of `combos`, each drawn without replacement by weight
    (Efraimidis-Spirakis keys): a host takes the first k of one."""
    orders = []
    for _ in range(count):
        keyed = sorted(range(len(combos)), key=lambda i: -(rng.random() ** (1.0 / weights[i])))
        orders.append([combos[i] for i in keyed])
    return orders


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("db")
    ap.add_argument("--agents", type=int, default=50_000)
    ap.add_argument("--segments", type=int, default=500)
    ap.add_argument("--findings", type=int, default=5_000_000)
    ap.add_argument("--open-percent", type=float, default=2.0)
    ap.add_argument("--hosts-per-agent", type=int, default=40)
    ap.add_argument("--services-per-host", type=float, default=2.5, help="average service rows per host")
    ap.add_argument("--scans-per-agent", type=int, default=10)
    ap.add_argument("--jumphost-percent", type=float, default=10.0, help="share of the findings on jump hosts (subject agent:ID)")
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--touch-agents", action="store_true",
                    help="only move the agents' last heartbeats and reports forward to now (run just before serving)")
    a = ap.parse_args()
    if a.touch_agents:
        return touch_agents(a.db)
    if a.agents < 1 or a.segments < 1 or a.segments > a.agents:
        sys.exit("fleet_db.py: need 1 <= segments <= agents")
    if not 0 <= a.open_percent <= 100 or not 0 <= a.jumphost_percent <= 100:
        sys.exit("fleet_db.py: percentages are 0-100")
    if not os.path.exists(a.db):
        sys.exit(f"fleet_db.py: no database {a.db} (start `cordon serve` once on the state directory to create and migrate it)")

    rng = random.Random(a.seed)
    now = time.time()
    started = time.monotonic()
    db = sqlite3.connect(a.db, isolation_level=None)
    migrations = {r[0] for r in db.execute("SELECT identifier FROM grdb_migrations")}
    for needed in ("v1-core", "v2-scan-inventory", "v3-tasks", "v4-segments"):
        if needed not in migrations:
            sys.exit(f"fleet_db.py: the database lacks migration {needed}; let `cordon serve` create it first")
    for table in ("agent", "host", "service", "finding", "scan", "segment"):
        if db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():
            sys.exit(f"fleet_db.py: table {table} is not empty; this fills a fresh database")

    # The file is in WAL mode (GRDB's DatabasePool); generation runs without a journal, then the
    # file goes back to WAL for the coordinator.
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -1048576")  # 1 GiB: the unique index of finding stays in memory
    db.execute("PRAGMA temp_store = MEMORY")
    db.execute("BEGIN")

    counts = {}

    # --- Segments, their enrollment tokens (used up), the agents and their certificates --------
    per_segment = [a.agents // a.segments + (1 if s < a.agents % a.segments else 0) for s in range(a.segments)]
    max_hosts = max(per_segment) * a.hosts_per_agent
    block = 1
    while block < max_hosts + 2:  # .0 and the last address of the block are left out
        block <<= 1
    if block > SEGMENT_SPACE:
        sys.exit(f"fleet_db.py: {max_hosts} hosts in one segment do not fit in 198.18.0.0/15")
    prefix = 32 - block.bit_length() + 1
    seg_names = ["seg-%04d" % (s + 1) for s in range(a.segments)]
    seg_base = [SPACE_BASE + (s * block) % SEGMENT_SPACE for s in range(a.segments)]
    tokens = ["%012x" % rng.getrandbits(48) for _ in range(a.segments)]
    db.executemany("INSERT INTO segment (name, scopeJSON, updatedAt, updatedBy) VALUES (?, ?, ?, ?)",
                   [(seg_names[s], json.dumps(["%s/%d" % (dotted(seg_base[s]), prefix)]).encode(),
                     grdb_date(now - 400 * 86400), "operator:bench") for s in range(a.segments)])
    db.executemany("INSERT INTO enrollmentToken (id, hash, segment, createdAt, expiresAt, usesLeft, createdBy) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [(tokens[s], tokens[s] + "%052x" % rng.getrandbits(208), seg_names[s], grdb_date(now - 400 * 86400),
                     grdb_date(now - 399 * 86400), 0, "operator:bench") for s in range(a.segments)])
    counts["segment"] = a.segments

    agents = []  # (id, segment index)
    agent_rows, cert_rows = [], []
    for s in range(a.segments):
        for k in range(per_segment[s]):
            aid = "agt-%016x" % rng.getrandbits(64)
            agents.append((aid, s))
            enrolled = now - rng.uniform(30, 365) * 86400
            r = rng.random()
            if r < 0.95:
                seen = now - rng.uniform(0, 30)                 # online
            elif r < 0.98:
                seen = now - rng.uniform(70, 180)               # late
            else:
                seen = now - rng.uniform(3600, 30 * 86400)      # offline
            revoked = grdb_date(now - rng.uniform(1, 60) * 86400) if rng.random() < 0.002 else None
            hostname = "jump-%s-%02d" % (seg_names[s][4:], k + 1)
            facts = json.dumps({"hostname": hostname, "osRelease": "Debian GNU/Linux 12 (bookworm)", "kernel": "6.1.0-28-amd64",
                                "agentVersion": "0.1.0", "uptimeSeconds": round(rng.uniform(3600, 90 * 86400), 1),
                                "addresses": [dotted(seg_base[s] + 1 + k), "fe80::%x" % rng.getrandbits(16)]},
                               separators=(",", ":")).encode()
            dropped = rng.choice((0,) * 50 + (3, 120))
            not_after = now + rng.uniform(1, 90) * 86400
            agent_rows.append((aid, seg_names[s], hostname, "0.1.0", grdb_date(enrolled), tokens[s], grdb_date(not_after),
                               grdb_date(seen), grdb_date(seen - rng.uniform(0, 270)), 30.0, 300.0,
                               rng.choice((0,) * 30 + (1, 4)), dropped, revoked, facts))
            cert_rows.append(("%040x" % rng.getrandbits(160), "agent", aid, grdb_date(not_after - 90 * 86400), grdb_date(not_after), revoked))
    db.executemany("INSERT INTO agent (id, segment, hostname, agentVersion, enrolledAt, tokenID, certificateNotAfter, lastSeenAt, "
                   "lastReportAt, heartbeatInterval, reportInterval, spoolDepth, spoolDroppedTotal, revokedAt, factsJSON) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", agent_rows)
    db.executemany("INSERT INTO issuedCertificate (serial, role, subject, issuedAt, notAfter, revokedAt) VALUES (?, ?, ?, ?, ?, ?)", cert_rows)
    counts["agent"] = len(agent_rows)
    del agent_rows, cert_rows

    # --- Scans --------------------------------------------------------------------------------
    def scan_rows():
        for aid, s in agents:
            for i in range(a.scans_per_agent):
                finished = now - i * 3600 - rng.uniform(0, 600)
                yield ("%032x" % rng.getrandbits(128), aid, seg_names[s], "worms", grdb_date(finished - rng.uniform(20, 300)),
                       grdb_date(finished), 1, a.hosts_per_agent * 6, a.hosts_per_agent, a.hosts_per_agent * 5, grdb_date(finished + 1))
    db.executemany("INSERT INTO scan (id, agentID, segment, profile, startedAt, finishedAt, complete, addressesScanned, hostsUp, "
                   "hostsDown, receivedAt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", scan_rows())
    counts["scan"] = len(agents) * a.scans_per_agent

    # --- Hosts and services -------------------------------------------------------------------
    # hosts[i] = (segment index, address, agentID, lastSeen)
    hosts = []
    os_names = [o for o, _ in OS_GUESSES]
    os_weights = [w for _, w in OS_GUESSES]
    service_ports = [445, 135, 139, 3389, 80, 443, 22, 137, 8080, 1025]
    service_weights = [30, 28, 24, 14, 8, 6, 5, 4, 2, 2]
    service_orders = weighted_orders(rng, service_ports, service_weights, 512)
    host_rows, service_rows = [], []
    by_agent = {}
    for aid, s in agents:
        by_agent.setdefault(s, []).append(aid)
    for s in range(a.segments):
        n = per_segment[s] * a.hosts_per_agent
        for j in range(n):
            aid = by_agent[s][j // a.hosts_per_agent]
            addr = dotted(seg_base[s] + 1 + j)
            last = now - rng.uniform(0, 7200) if rng.random() < 0.9 else now - rng.uniform(2, 180) * 86400
            first = last - rng.uniform(0, 365) * 86400
            os_guess = rng.choices(os_names, os_weights)[0]
            windows = os_guess is not None and os_guess.startswith("Windows")
            name = ("WS%s%04d" % (seg_names[s][4:], j)) if windows and rng.random() < 0.8 else None
            host_rows.append((seg_names[s], addr, aid, name, "CORP" if name else None, None,
                              "00:15:5d:%02x:%02x:%02x" % (rng.randrange(256), rng.randrange(256), rng.randrange(256)),
                              os_guess, "syn-ack", grdb_date(first), grdb_date(last)))
            hosts.append((s, addr, aid, last))
            k = int(a.services_per_host) + (1 if rng.random() < a.services_per_host % 1 else 0)
            for port in service_orders[rng.randrange(512)][:k]:
                service_rows.append((seg_names[s], addr, "tcp", port, "open", "syn-ack", SERVICE_NAMES[port], None, None, None,
                                     grdb_date(first), grdb_date(last)))
        if len(host_rows) >= 200_000 or s == a.segments - 1:
            db.executemany("INSERT INTO host (segment, address, agentID, netbiosName, workgroup, dnsName, mac, osGuess, reason, "
                           "firstSeen, lastSeen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", host_rows)
            db.executemany("INSERT INTO service (segment, address, proto, port, state, reason, service, product, version, banner, "
                           "firstSeen, lastSeen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", service_rows)
            counts["host"] = counts.get("host", 0) + len(host_rows)
            counts["service"] = counts.get("service", 0) + len(service_rows)
            host_rows, service_rows = [], []

    # --- Findings -----------------------------------------------------------------------------
    open_p = a.open_percent / 100.0
    jump_total = int(round(a.findings * a.jumphost_percent / 100.0)) if a.findings else 0
    scan_total = a.findings - jump_total
    if hosts and scan_total > len(hosts) * len(SCAN_COMBOS):
        sys.exit(f"fleet_db.py: {scan_total} scan findings do not fit on {len(hosts)} hosts "
                 f"({len(SCAN_COMBOS)} distinct findings per host at most); raise --hosts-per-agent")
    combo_orders = weighted_orders(rng, SCAN_COMBOS, [c[3] for c in SCAN_COMBOS], 4096)
    stats = {"open": 0, "open_conficker": 0, "conficker": 0}
    conficker_ids = {"conficker.smb-exposed", "conficker.p2p-reply", "jumphost.password-age", "jumphost.empty-password",
                     "jumphost.new-scheduled-task", "jumphost.failed-logon-burst"}  # DetectionCatalogue: worm .conficker

    def dates(last_seen_of_subject):
        """firstSeen, lastSeen, resolvedAt of one finding on a subject last seen at the given time."""
        if rng.random() < open_p:
            last = last_seen_of_subject
            return grdb_date(last - rng.uniform(0, 120) * 86400), grdb_date(last), None
        last = last_seen_of_subject - rng.uniform(3600, 365 * 86400)
        resolved = min(last + rng.uniform(600, 3 * 86400), last_seen_of_subject)
        return grdb_date(last - rng.uniform(0, 60) * 86400), grdb_date(last), grdb_date(resolved)

    def count(detection, resolved):
        if detection in conficker_ids:
            stats["conficker"] += 1
            if resolved is None:
                stats["open_conficker"] += 1
        if resolved is None:
            stats["open"] += 1

    def scan_findings():
        if not hosts:
            return
        base, extra = divmod(scan_total, len(hosts))
        for i, (s, addr, aid, last) in enumerate(hosts):
            k = base + (1 if i < extra else 0)
            for det, proto, port, _, evidence in combo_orders[rng.randrange(4096)][:k]:
                first, lastseen, resolved = dates(last)
                count(det, resolved)
                yield (seg_names[s], "host:" + addr, addr, aid, det, "%s/%d" % (proto, port), port, proto, evidence, first, lastseen, resolved)

    jump_weights = [j[2] for j in JUMPHOST]

    def jump_findings():
        if not agents:
            return
        base, extra = divmod(jump_total, len(agents))
        for i, (aid, s) in enumerate(agents):
            k = base + (1 if i < extra else 0)
            seen = set()
            for n in range(k):
                det, prefix_, _, text = rng.choices(JUMPHOST, jump_weights)[0]
                if prefix_ == "firewall":
                    item = "firewall:inbound" if ("firewall:inbound", det) not in seen else "firewall:forward"
                    if (item, det) in seen:
                        det, prefix_, text = "jumphost.failed-logon-burst", "source", JUMPHOST[0][3]
                if prefix_ == "source":
                    item = "source:" + dotted(SPACE_BASE + rng.randrange(SEGMENT_SPACE))
                    while (item, det) in seen:
                        item = "source:" + dotted(SPACE_BASE + rng.randrange(SEGMENT_SPACE))
                elif prefix_ == "task":
                    item = "task:cron:/etc/cron.d/job-%06x-%d" % (rng.getrandbits(24), n)
                elif prefix_ == "account":
                    item = "account:user%04d" % n
                seen.add((item, det))
                first, lastseen, resolved = dates(now - rng.uniform(0, 900))
                count(det, resolved)
                yield (seg_names[s], "agent:" + aid, None, aid, det, item, None, None,
                       text.format(n=rng.randrange(10, 400), src=item[7:], name="job%d" % n), first, lastseen, resolved)

    insert_finding = ("INSERT INTO finding (segment, subject, address, agentID, detectionID, item, port, proto, evidence, firstSeen, "
                      "lastSeen, resolvedAt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    db.executemany(insert_finding, scan_findings())
    db.executemany(insert_finding, jump_findings())
    counts["finding"] = db.execute("SELECT COUNT(*) FROM finding").fetchone()[0]
    db.execute("COMMIT")
    db.execute("PRAGMA journal_mode = WAL")
    fk = db.execute("PRAGMA foreign_key_check").fetchall()
    db.close()
    took = time.monotonic() - started

    print(json.dumps({
        "seconds": round(took, 1),
        "rows": counts,
        "openFindings": stats["open"],
        "confickerFindings": stats["conficker"],
        "openConfickerFindings": stats["open_conficker"],
        "scopePrefix": prefix,
        "foreignKeyViolations": len(fk),
    }))


def touch_agents(path):
    """Moves every agent's lastSeenAt and lastReportAt forward by the time since the newest
    heartbeat: the fleet is as online as when it was generated (no heartbeats arrive during the
    benchmark, so agents go late after 65 s and offline after 185 s, as with a real outage)."""
    db = sqlite3.connect(path, isolation_level=None)
    newest = db.execute("SELECT MAX(lastSeenAt) FROM agent").fetchone()[0]
    if newest is None:
        return
    then = dt.datetime.strptime(newest, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=dt.timezone.utc).timestamp()
    shift = "%+.3f seconds" % max(0.0, time.time() - then)
    db.execute("UPDATE agent SET lastSeenAt = strftime('%Y-%m-%d %H:%M:%f', lastSeenAt, ?), "
               "lastReportAt = strftime('%Y-%m-%d %H:%M:%f', lastReportAt, ?)", (shift, shift))
    db.close()


if __name__ == "__main__":
    main()
