#!/usr/bin/env python3
"""A load generator of real mTLS agents for a real `cordon serve` (issue 12).

Used by benchmarks/fleet-load.sh and benchmarks/push-latency.sh; it can be run alone too.

  enroll  N agents with real keys and CSRs: each makes a P-256 key, sends a CSR with a
          one-time token to POST /v1/enroll (no client certificate, as `cordon-agent enroll`),
          and keeps the certificate it gets back. Identities are written to DIR (key and
          certificate per agent, agents.tsv) and reused by later runs against the same
          coordinator state.
  load    drives heartbeats, small reports and full reports at the given rates from N enrolled
          agents, each from its own loopback source address (127.1.0.0/16, so that neither the
          coordinator's per-address handshake cap nor the ephemeral ports are the bound), over
          HTTP/1.1 keep-alive connections that are closed after 20 s idle, as the agent's HTTP
          client does (so a heartbeat each minute opens a new TLS connection, as in the field).
          Optionally each agent also holds a task long-poll on a connection of its own.
  push    every agent holds a long-poll (GET /v1/tasks/next?wait=25, again after each 204);
          once all are held, runs the given command (`cordon tasks push --segment ...`) and
          times, from the moment it started, each agent's receipt of its task list.

Latency is from writing the request to reading the whole answer, on a connection that is
already open (a new connection's handshake is timed apart). The generator prints its own CPU
time, and the coordinator's (from /proc/PID/stat) when --server-pid is given: a generator that
saturates its core measures itself, not the server.

Needs Python 3.9+ and the `cryptography` package (Debian: python3-cryptography); nothing else.
"""

import argparse
import asyncio
import base64
import gzip
import json
import os
import random
import resource
import ssl
import statistics
import subprocess
import sys
import time

PROTOCOL = "1.0"
AGENT_VERSION = "0.1.0-fleet-load"
IDLE_CLOSE = 20.0          # the agent's HTTP client closes a connection idle this long (--idle)
REQUEST_TIMEOUT = 60.0
HZ = os.sysconf("SC_CLK_TCK")


def now_iso():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


def source_address(i):
    """127.1.0.1 .. 127.1.255.254, then 127.2.x.y: one per agent, never .0 or .255."""
    n = i % (254 * 256 * 60)
    return "127.%d.%d.%d" % (1 + n // (254 * 256), (n // 254) % 256, 1 + n % 254)


# ---- process figures -------------------------------------------------------------------------

def proc_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def own_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Meter:
    """CPU of this process and of the server over an interval."""

    def __init__(self, server_pid):
        self.pid = server_pid
        self.wall = time.monotonic()
        self.cpu = own_cpu()
        self.server = proc_ticks(server_pid) if server_pid else 0

    def read(self):
        wall = time.monotonic() - self.wall
        out = {"wall": wall, "generatorCores": (own_cpu() - self.cpu) / wall if wall > 0 else 0}
        if self.pid:
            out["serverCores"] = (proc_ticks(self.pid) - self.server) / HZ / wall if wall > 0 else 0
            out["serverRSS"] = proc_status(self.pid, "VmRSS")
            out["serverPeakRSS"] = proc_status(self.pid, "VmHWM")
        return out


# ---- HTTP/1.1 over TLS, minimal and bounded --------------------------------------------------

class HTTPError(Exception):
    pass


class Connection:
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        self.last_used = time.monotonic()
        self.closed = False
        self.busy = False

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.writer.transport.abort()
            except Exception:
                pass

    async def request(self, method, path, body=b"", gzip_body=False, timeout=REQUEST_TIMEOUT):
        head = [f"{method} {path} HTTP/1.1", "Host: cordon", f"Cordon-Protocol: {PROTOCOL}"]
        if body or method == "POST":
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
            if gzip_body:
                head.append("Content-Encoding: gzip")
        self.busy = True
        try:
            self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            status, payload, close = await asyncio.wait_for(self._response(), timeout)
        finally:
            self.busy = False
        self.last_used = time.monotonic()
        if close:
            self.close()
        return status, payload

    async def _response(self):
        header = await self.reader.readuntil(b"\r\n\r\n")
        lines = header.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise HTTPError(f"bad status line {lines[0][:80]!r}")
        status = int(parts[1])
        length, chunked, close = 0, False, False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and value == "close":
                close = True
        if length > 64 << 20:
            raise HTTPError("answer over 64 MiB")
        if chunked:
            body = bytearray()
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                body += await self.reader.readexactly(size + 2)
                del body[-2:]
                if len(body) > 64 << 20:
                    raise HTTPError("answer over 64 MiB")
            return status, bytes(body), close
        return status, (await self.reader.readexactly(length) if length else b""), close


class Agent:
    __slots__ = ("index", "agent_id", "segment", "pem", "ctx", "conn", "source", "sent_reports")

    def __init__(self, index, agent_id, segment, pem):
        self.index, self.agent_id, self.segment, self.pem = index, agent_id, segment, pem
        self.ctx, self.conn, self.source, self.sent_reports = None, None, source_address(index), 0


class Stats:
    def __init__(self):
        self.latency = {}       # kind -> [seconds]
        self.status = {}        # (kind, status) -> count
        self.errors = {}        # (kind, text) -> count
        self.handshakes = []    # seconds
        self.handshake_errors = {}
        self.lag = []           # seconds the generator was late for a scheduled request

    def ok(self, kind, status, seconds):
        self.status[(kind, status)] = self.status.get((kind, status), 0) + 1
        self.latency.setdefault(kind, []).append(seconds)

    def error(self, kind, text):
        self.errors[(kind, text)] = self.errors.get((kind, text), 0) + 1


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class Fleet:
    def __init__(self, url, directory, count, ca_pem, part=(0, 1)):
        host_port = url.removeprefix("https://").rstrip("/")
        self.host, _, port = host_port.rpartition(":")
        self.port = int(port)
        self.directory = directory
        self.ca_pem = ca_pem
        self.agents = []
        with open(os.path.join(directory, "agents.tsv")) as f:
            for line in f:
                index, agent_id, segment = line.rstrip("\n").split("\t")
                self.agents.append(Agent(int(index), agent_id, segment, os.path.join(directory, "keys", f"{index}.pem")))
        if len(self.agents) < count:
            sys.exit(f"{directory} holds {len(self.agents)} identities, {count} asked for")
        self.agents = [a for a in self.agents[:count] if a.index % part[1] == part[0]]
        self.handshake_slots = asyncio.Semaphore(48)   # under the coordinator's 64 per address
        self.idle = IDLE_CLOSE

    def context(self, agent):
        if agent.ctx is None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.load_verify_locations(cadata=self.ca_pem)
            ctx.load_cert_chain(agent.pem)
            agent.ctx = ctx
        return agent.ctx

    async def connect(self, agent, stats):
        async with self.handshake_slots:
            start = time.monotonic()
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                self.host, self.port, ssl=self.context(agent), server_hostname=self.host,
                local_addr=(agent.source, 0), limit=1 << 20), 30)
            stats.handshakes.append(time.monotonic() - start)
        return Connection(reader, writer)

    async def call(self, agent, kind, method, path, body, stats, gzip_body=False, slot="conn"):
        """One request on the agent's connection (a new one when it has none, or when it has
        been idle 20 s); a request on a connection the server had closed is retried once on a
        new one (heartbeats and reports are idempotent)."""
        for attempt in range(2):
            conn = getattr(agent, slot) if slot == "conn" else None
            if conn is not None and (conn.closed or time.monotonic() - conn.last_used > self.idle):
                conn.close()
                conn = None
            fresh = conn is None
            if fresh:
                try:
                    conn = await self.connect(agent, stats)
                except Exception as e:
                    key = type(e).__name__ + (f": {e}"[:100] if str(e) else "")
                    stats.handshake_errors[key] = stats.handshake_errors.get(key, 0) + 1
                    stats.error(kind, "connect failed")
                    return None, None
                if slot == "conn":
                    agent.conn = conn
            start = time.monotonic()
            try:
                status, payload = await conn.request(method, path, body, gzip_body)
            except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError) as e:
                conn.close()
                if not fresh and attempt == 0:
                    continue   # the server closed it between requests: retry on a new one
                stats.error(kind, f"{type(e).__name__} after {time.monotonic() - start:.1f} s")
                return None, None
            except asyncio.TimeoutError:
                conn.close()
                stats.error(kind, f"no answer within {REQUEST_TIMEOUT:.0f} s")
                return None, None
            except HTTPError as e:
                conn.close()
                stats.error(kind, str(e))
                return None, None
            stats.ok(kind, status, time.monotonic() - start)
            if slot != "conn":
                conn.close()
            return status, payload
        return None, None


# ---- report bodies ---------------------------------------------------------------------------

def facts(agent):
    return {"hostname": f"jump-{agent.index}", "osRelease": "Debian GNU/Linux 12 (bookworm)", "kernel": "6.1.0-28-amd64",
            "agentVersion": AGENT_VERSION, "uptimeSeconds": 86400.0, "addresses": ["198.18.0.1"]}


def synthetic_scan(rng, hosts, started):
    """A worms-profile scan of a /24 (198.18.0.0/24, data only) with `hosts` live hosts, their
    services and findings with real detection IDs, as the scanner writes them."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from fleet_db import SCAN_COMBOS, SERVICE_NAMES
    ports = [(135, "tcp"), (139, "tcp"), (445, "tcp"), (80, "tcp"), (3389, "tcp"), (4444, "tcp"), (8080, "tcp"), (137, "udp"), (69, "udp")]
    out = []
    for h in rng.sample(range(2, 255), hosts):
        services = []
        for port, proto in ports:
            if proto == "tcp":
                state = rng.choices(["open", "closed", "filtered"], [3, 2, 1])[0]
                reason = {"open": "syn-ack", "closed": "conn-refused", "filtered": "no-response"}[state]
            else:
                state, reason = rng.choice([("open", "udp-response"), ("open|filtered", "no-response"), ("closed", "port-unreach")])
            s = {"port": port, "proto": proto, "state": state, "reason": reason}
            if state == "open":
                s["service"] = SERVICE_NAMES.get(port, "unknown")
                if port in (80, 8080):
                    s.update(product="Microsoft IIS httpd", version="5.0", banner="HTTP/1.1 200 OK\r\nServer: Microsoft-IIS/5.0")
                elif port == 445:
                    s.update(product="Microsoft Windows SMB", version="SMB 2.1, NT LM 0.12")
            services.append(s)
        findings = []
        for detection, proto, port, weight, evidence in SCAN_COMBOS:
            if rng.random() < weight / 60:
                findings.append({"detectionID": detection, "port": port, "proto": proto, "evidence": evidence})
        out.append({"address": f"198.18.0.{h}", "reason": "syn-ack", "netbiosName": f"WS{h:03d}", "workgroup": "OFFICE",
                    "osGuess": "Windows XP", "services": services, "findings": findings, "complete": True})
    return {"id": "scan-" + "%016x" % rng.getrandbits(64), "profile": "worms", "scope": ["198.18.0.0/24"], "exclude": [],
            "startedAt": started, "finishedAt": started, "complete": True, "addressesScanned": 256, "hostsDown": 256 - hosts,
            "hosts": out, "stats": {"probesSent": 4100, "retries": 600, "timeouts": 1900, "peakInFlight": 512}}


def trimmed_inventory(path, target):
    """The jump host's inventory from `cordon-agent inventory --json`, its package list cut so
    that the whole is about `target` bytes (0: as it is)."""
    with open(path) as f:
        inventory = json.load(f)
    data = inventory.get("packages", {}).get("data")
    packages = data.get("packages") if isinstance(data, dict) else None
    if target and isinstance(packages, list):
        while len(packages) > 1 and len(json.dumps(inventory, separators=(",", ":"))) > target:
            del packages[max(1, len(packages) * 19 // 20):]
    return inventory


class Bodies:
    """Full report bodies, one per request of the burst (report IDs are unique across the
    fleet), gzip-compressed ahead of time as the agent compresses each report once: compressing
    100 KB per request during the burst would make the generator the bottleneck. The scan
    differs between a few variants; IDs and dates are each body's own."""

    def __init__(self, inventory_path, inventory_size, hosts, count, seed):
        rng = random.Random(seed)
        inventory = trimmed_inventory(inventory_path, inventory_size)
        self.inventory_bytes = len(json.dumps(inventory, separators=(",", ":")))
        started = now_iso()
        templates = []
        for k in range(4):
            report = {"id": "@REPORT@", "protocolVersion": PROTOCOL, "createdAt": started, "spoolDropped": 0,
                      "facts": facts(Agent(0, "", "", "")), "scan": synthetic_scan(rng, hosts, started), "inventory": inventory}
            report["scan"]["id"] = "@SCAN@"
            report["inventory"] = dict(inventory, collectedAt="@COLLECTED@")
            templates.append(json.dumps(report, separators=(",", ":")))
        self.raw_bytes = len(templates[0])
        self.bodies = []
        base = int(time.time()) - count // 1000 - 1
        for k in range(count):
            tag = "%d-%s" % (k, os.urandom(8).hex())   # unique across runs too
            # Each a newer inventory than the last (an older one is taken for a late resend).
            collected = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base + k // 1000)) + ".%03dZ" % (k % 1000)
            raw = (templates[k % 4].replace("@REPORT@", "full-" + tag, 1).replace("@SCAN@", "scan-" + tag, 1)
                   .replace("@COLLECTED@", collected, 1).encode())
            self.bodies.append(gzip.compress(raw, 6))
        self.gzip_bytes = len(self.bodies[0])
        self.used = 0

    def next(self):
        body = self.bodies[self.used % len(self.bodies)]
        self.used += 1
        return body


def heartbeat_body(interval, report_interval):
    return json.dumps({"sentAt": now_iso(), "agentVersion": AGENT_VERSION, "heartbeatInterval": interval,
                       "reportInterval": report_interval, "spoolDepth": 0, "spoolDropped": 0}).encode()


def small_report_body(agent, rng):
    """A report with the agent's facts and no scan or inventory: the size a delta report would
    have (Cordon's agents send no deltas yet; see the README)."""
    agent.sent_reports += 1
    return json.dumps({"id": "small-%d-%s" % (agent.sent_reports, os.urandom(8).hex()), "protocolVersion": PROTOCOL,
                       "createdAt": now_iso(), "spoolDropped": 0, "facts": facts(agent)}).encode()


# ---- enroll ----------------------------------------------------------------------------------

def enroll(args):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    os.makedirs(os.path.join(args.dir, "keys"), exist_ok=True)
    tokens = []   # (segment, token, uses)
    with open(args.tokens) as f:
        for line in f:
            segment, token, uses = line.split()
            tokens.extend([(segment, token)] * int(uses))
    if len(tokens) < args.count:
        sys.exit(f"the tokens allow {len(tokens)} enrollments, {args.count} asked for")
    ca_pem = open(args.ca).read()
    host, _, port = args.url.removeprefix("https://").rpartition(":")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=ca_pem)
    done, started = [], time.monotonic()

    async def one(i, slots):
        segment, token = tokens[i]
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"jump-{i}")]))
               .sign(key, hashes.SHA256()))
        body = json.dumps({"protocolVersion": PROTOCOL, "token": token, "hostname": f"jump-{i}", "agentVersion": AGENT_VERSION,
                           "csrPEM": csr.public_bytes(serialization.Encoding.PEM).decode()}).encode()
        async with slots:
            for attempt in range(5):
                try:
                    reader, writer = await asyncio.wait_for(asyncio.open_connection(
                        host, int(port), ssl=ctx, server_hostname=host, local_addr=(source_address(i), 0)), 30)
                    conn = Connection(reader, writer)
                    status, payload = await conn.request("POST", "/v1/enroll", body)
                    conn.close()
                    break
                except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
                    if attempt == 4:
                        raise SystemExit(f"agent {i}: enrollment failed: {e!r}")
                    await asyncio.sleep(0.5 * (attempt + 1))
        if status != 201:
            raise SystemExit(f"agent {i}: enrollment answered {status}: {payload[:300]!r}")
        answer = json.loads(payload)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        path = os.path.join(args.dir, "keys", f"{i}.pem")
        with open(path, "wb") as f:
            f.write(pem + answer["certificatePEM"].encode())
        done.append((i, answer["agentID"], answer["segment"]))
        if len(done) % 5000 == 0:
            print(f"  enrolled {len(done)} of {args.count} ({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)

    async def main():
        slots = asyncio.Semaphore(32)
        await asyncio.gather(*(one(i, slots) for i in range(args.count)))

    asyncio.run(main())
    done.sort()
    with open(os.path.join(args.dir, "agents.tsv.new"), "w") as f:
        for i, agent_id, segment in done:
            f.write(f"{i}\t{agent_id}\t{segment}\n")
    os.replace(os.path.join(args.dir, "agents.tsv.new"), os.path.join(args.dir, "agents.tsv"))
    print(json.dumps({"enrolled": len(done), "seconds": round(time.monotonic() - started, 1)}))


# ---- load ------------------------------------------------------------------------------------

async def close_idle(fleet, idle, duration):
    """Closes connections idle `idle` seconds, as the agent's client does (a connection is
    otherwise only looked at when the agent next uses it)."""
    end = time.monotonic() + duration
    while time.monotonic() < end:
        await asyncio.sleep(1)
        cutoff = time.monotonic() - idle
        for a in fleet.agents:
            if a.conn is not None and not a.conn.closed and a.conn.last_used < cutoff and not a.conn.busy:
                a.conn.close()


def summarize(stats, kinds):
    rows = {}
    for kind in kinds:
        lat = stats.latency.get(kind, [])
        by_status = {str(s): n for (k, s), n in sorted(stats.status.items()) if k == kind}
        errors = {t: n for (k, t), n in stats.errors.items() if k == kind}
        rows[kind] = {"answered": len(lat), "byStatus": by_status, "errors": errors,
                      "p50ms": round(percentile(lat, 50) * 1000, 1) if lat else None,
                      "p99ms": round(percentile(lat, 99) * 1000, 1) if lat else None,
                      "maxms": round(max(lat) * 1000, 1) if lat else None}
    return rows


def load_in_processes(args):
    """`load` split over `--procs` processes, each driving every N-th agent (one Python process
    tops out near one core, mostly in TLS handshakes); their figures are merged here."""
    import tempfile
    meter = Meter(args.server_pid)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    children, files = [], []
    argv = [a for a in sys.argv[1:]]
    # Children get the same arguments, without --procs and --server-pid, and their share.
    cleaned, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in ("--procs", "--server-pid"):
            skip = True
            continue
        if a.startswith("--procs=") or a.startswith("--server-pid="):
            continue
        cleaned.append(a)
    for k in range(args.procs):
        f = tempfile.NamedTemporaryFile(prefix="fleet-load-", suffix=".json", delete=False)
        f.close()
        files.append(f.name)
        children.append(subprocess.Popen([sys.executable, os.path.abspath(__file__)] + cleaned + ["--part", f"{k}/{args.procs}", "--raw", f.name],
                                         stdout=subprocess.DEVNULL))
    codes = [c.wait() for c in children]
    figures = meter.read()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if any(codes):
        sys.exit(f"a load process failed: exit codes {codes}")
    stats = Stats()
    peak_polls = 0
    for name in files:
        with open(name) as f:
            raw = json.load(f)
        os.unlink(name)
        for kind, values in raw["latency"].items():
            stats.latency.setdefault(kind, []).extend(values)
        for kind, status, n in raw["status"]:
            stats.status[(kind, status)] = stats.status.get((kind, status), 0) + n
        for kind, text, n in raw["errors"]:
            stats.errors[(kind, text)] = stats.errors.get((kind, text), 0) + n
        stats.handshakes.extend(raw["handshakes"])
        for text, n in raw["handshakeErrors"].items():
            stats.handshake_errors[text] = stats.handshake_errors.get(text, 0) + n
        stats.lag.extend(raw["lag"])
        peak_polls += raw["peakPolls"]
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    figures["generatorCores"] = cpu / figures["wall"]
    result = load_result(args, stats, figures, peak_polls)
    result["generatorProcesses"] = args.procs
    print(json.dumps(result))


def load_result(args, stats, figures, peak_polls):
    hs = stats.handshakes
    result = {
        "agents": args.count, "seconds": round(figures["wall"], 1),
        "intervals": {"heartbeat": args.heartbeat, "smallReport": args.report},
        "requestsPerSecond": round(sum(len(v) for k, v in stats.latency.items() if k != "long-poll") / figures["wall"], 1),
        "kinds": summarize(stats, ["heartbeat", "small report", "full report", "long-poll"]),
        "handshakes": {"count": len(hs), "p50ms": round(percentile(hs, 50) * 1000, 1) if hs else None,
                       "p99ms": round(percentile(hs, 99) * 1000, 1) if hs else None, "errors": stats.handshake_errors},
        "generatorLateP99ms": round(percentile(stats.lag, 99) * 1000, 1) if stats.lag else None,
        "generatorCores": round(figures["generatorCores"], 2),
        "longPollsHeldPeak": peak_polls,
    }
    if "serverCores" in figures:
        result.update(serverCores=round(figures["serverCores"], 2), serverRSS=figures["serverRSS"], serverPeakRSS=figures["serverPeakRSS"])
    return result


async def load(args):
    ca_pem = open(args.ca).read()
    fleet = Fleet(args.url, args.dir, args.count, ca_pem, part=args.part)
    fleet.idle = args.idle
    stats = Stats()
    rng = random.Random(args.seed)
    idle_closer = asyncio.ensure_future(close_idle(fleet, args.idle, args.duration))
    bodies = None
    if args.full_rate > 0:
        made = time.monotonic()
        bodies = Bodies(args.inventory, args.inventory_size, args.hosts, int(args.full_rate * args.full_seconds) + 1, args.seed)
        print(f"  full report: {bodies.raw_bytes / 1024:.0f} KiB JSON ({bodies.inventory_bytes / 1024:.0f} KiB of it inventory, "
              f"{args.hosts} scanned hosts), {bodies.gzip_bytes / 1024:.0f} KiB gzip-compressed; {len(bodies.bodies):,} made in "
              f"{time.monotonic() - made:.0f} s", file=sys.stderr, flush=True)
    meter = Meter(args.server_pid)
    start = time.monotonic()
    end = start + args.duration
    polls_held = [0]

    async def agent_loop(agent):
        # Each agent starts at a random point of its intervals, so the rate is even from the start.
        next_hb = start + rng.uniform(0, args.heartbeat)
        next_rep = start + rng.uniform(0, args.report) if args.report > 0 else float("inf")
        while True:
            due = min(next_hb, next_rep)
            if due >= end:
                return
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            stats.lag.append(max(0.0, time.monotonic() - due))
            if due == next_hb:
                next_hb += args.heartbeat
                await fleet.call(agent, "heartbeat", "POST", "/v1/heartbeat", heartbeat_body(args.heartbeat, args.report), stats)
            else:
                next_rep += args.report
                await fleet.call(agent, "small report", "POST", "/v1/reports", small_report_body(agent, rng), stats)

    async def poll_loop(agent):
        # The task runner's long-poll, on a connection of its own (the agent's pool opens a
        # second one while the poll is held).
        conn = None
        while time.monotonic() < end:
            try:
                if conn is None or conn.closed:
                    conn = await fleet.connect(agent, stats)
                polls_held[0] += 1
                t = time.monotonic()
                status, _ = await conn.request("GET", "/v1/tasks/next?wait=25", timeout=40)
                stats.ok("long-poll", status, time.monotonic() - t)
            except Exception as e:
                stats.error("long-poll", type(e).__name__)
                if conn:
                    conn.close()
                conn = None
                await asyncio.sleep(rng.uniform(1, 5))
            finally:
                polls_held[0] -= 1
        if conn:
            conn.close()

    async def bursts():
        # Full reports at full_rate per second from agents in turn, for full_seconds, starting
        # after full_after seconds; each is sent on time whether earlier ones were answered.
        await asyncio.sleep(args.full_after)
        t0 = time.monotonic()
        total = int(args.full_rate * args.full_seconds)
        order = list(range(len(fleet.agents)))
        rng.shuffle(order)
        pending = set()
        burst_meter = Meter(args.server_pid)
        for n in range(total):
            due = t0 + n / args.full_rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            agent = fleet.agents[order[n % len(order)]]
            pending.add(asyncio.ensure_future(
                fleet.call(agent, "full report", "POST", "/v1/reports", bodies.next(), stats, gzip_body=True, slot="own")))
        sent_in = time.monotonic() - t0
        if pending:
            await asyncio.wait(pending)
        figures = burst_meter.read()
        figures["sentIn"] = sent_in
        return figures

    sampler_peak = {"polls": 0}

    async def sampler():
        while time.monotonic() < end:
            sampler_peak["polls"] = max(sampler_peak["polls"], polls_held[0])
            await asyncio.sleep(1)

    tasks = [asyncio.ensure_future(agent_loop(a)) for a in fleet.agents]
    if args.long_poll:
        tasks += [asyncio.ensure_future(poll_loop(a)) for a in fleet.agents]
    tasks.append(asyncio.ensure_future(sampler()))
    burst_task = asyncio.ensure_future(bursts()) if bodies else None
    await asyncio.gather(*tasks)
    burst = await burst_task if burst_task else None
    figures = meter.read()
    idle_closer.cancel()
    for a in fleet.agents:
        if a.conn:
            a.conn.close()
    if args.raw:
        with open(args.raw, "w") as f:
            json.dump({"latency": stats.latency, "status": [[k, s, n] for (k, s), n in stats.status.items()],
                       "errors": [[k, t, n] for (k, t), n in stats.errors.items()], "handshakes": stats.handshakes,
                       "handshakeErrors": stats.handshake_errors, "lag": stats.lag, "peakPolls": sampler_peak["polls"]}, f)
        return
    result = load_result(args, stats, figures, sampler_peak["polls"])
    if burst:
        result["fullBurst"] = {"rate": args.full_rate, "seconds": args.full_seconds, "sentInSeconds": round(burst["sentIn"], 1),
                               "generatorCores": round(burst["generatorCores"], 2),
                               "serverCores": round(burst.get("serverCores", 0), 2),
                               "reportBytes": bodies.raw_bytes, "gzipBytes": bodies.gzip_bytes}
    print(json.dumps(result))


# ---- push ------------------------------------------------------------------------------------

async def push(args):
    ca_pem = open(args.ca).read()
    fleet = Fleet(args.url, args.dir, args.count, ca_pem)
    stats = Stats()
    received = {}
    armed = asyncio.Event()
    t0 = [None]
    held = [0]
    meter = Meter(args.server_pid)

    async def poller(agent):
        conn = None
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline and agent.index not in received:
            try:
                if conn is None or conn.closed:
                    conn = await fleet.connect(agent, stats)
                held[0] += 1
                try:
                    status, payload = await conn.request("GET", "/v1/tasks/next?wait=25", timeout=40)
                finally:
                    held[0] -= 1
            except Exception as e:
                stats.error("long-poll", type(e).__name__)
                if conn:
                    conn.close()
                conn = None
                await asyncio.sleep(random.uniform(0.5, 2))
                continue
            if status == 200:
                if armed.is_set():
                    received[agent.index] = time.monotonic() - t0[0]
                # Settled, so that the list is not handed out again (an earlier run's too): the
                # simulated agent runs nothing and says so.
                try:
                    run_id = json.loads(base64.b64decode(json.loads(payload)["payload"]))["id"]
                    body = json.dumps({"state": "refused", "at": now_iso(), "results": [], "secrets": [],
                                       "message": "push-latency benchmark: not run"}).encode()
                    acked, answer = await conn.request("POST", f"/v1/tasks/{run_id}/status", body)
                    if acked != 200:
                        stats.error("ack", f"HTTP {acked}: {answer[:120]!r}")
                except Exception as e:
                    stats.error("ack", type(e).__name__)
                    conn.close()
            elif status != 204:
                stats.error("long-poll", f"HTTP {status}")
                await asyncio.sleep(1)
        if conn:
            conn.close()

    tasks = [asyncio.ensure_future(poller(a)) for a in fleet.agents]
    setup = time.monotonic()
    while held[0] < args.count and time.monotonic() - setup < args.timeout:
        await asyncio.sleep(0.2)
    if held[0] < args.count:
        sys.exit(f"only {held[0]} of {args.count} long-polls held after {args.timeout} s: {stats.errors}")
    connected_in = time.monotonic() - setup
    await asyncio.sleep(2)   # the last requests reach the server and are held
    print(f"  {held[0]} long-polls held ({connected_in:.1f} s to connect them all); pushing ...", file=sys.stderr, flush=True)
    push_meter = Meter(args.server_pid)
    armed.set()
    t0[0] = time.monotonic()
    proc = await asyncio.create_subprocess_exec(*args.command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    push_seconds = time.monotonic() - t0[0]
    if proc.returncode != 0:
        for t in tasks:
            t.cancel()
        sys.exit(f"the push failed (exit {proc.returncode}): {err.decode(errors='replace')[-500:]}")
    wait_until = time.monotonic() + args.timeout
    while len(received) < args.count and time.monotonic() < wait_until:
        await asyncio.sleep(0.05)
    all_in = time.monotonic() - t0[0]
    figures = push_meter.read()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    times = list(received.values())
    result = {"agents": args.count, "received": len(times), "pushCommandSeconds": round(push_seconds, 3),
              "firstS": round(min(times), 3) if times else None, "p50s": round(percentile(times, 50), 3) if times else None, "p99s": round(percentile(times, 99), 3) if times else None,
              "maxs": round(max(times), 3) if times else None, "allInSeconds": round(all_in, 3) if len(times) == args.count else None,
              "connectSeconds": round(connected_in, 1), "errors": {f"{k}: {t}": n for (k, t), n in stats.errors.items()},
              "generatorCores": round(figures["generatorCores"], 2)}
    if args.server_pid:
        result.update(serverCores=round(figures["serverCores"], 2), serverPeakRSS=figures["serverPeakRSS"])
    print(json.dumps(result))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    e = sub.add_parser("enroll", help="enroll N agents with real keys and CSRs")
    e.add_argument("--url", required=True)
    e.add_argument("--ca", required=True, help="the coordinator's CA certificate (PEM)")
    e.add_argument("--tokens", required=True, help="lines of 'SEGMENT TOKEN USES'")
    e.add_argument("--count", type=int, required=True)
    e.add_argument("--dir", required=True)
    for name in ("load", "push"):
        s = sub.add_parser(name)
        s.add_argument("--url", required=True)
        s.add_argument("--ca", required=True)
        s.add_argument("--dir", required=True)
        s.add_argument("--count", type=int, required=True)
        s.add_argument("--server-pid", type=int, default=0)
        s.add_argument("--seed", type=int, default=1)
    l = sub.choices["load"]
    l.add_argument("--duration", type=float, default=300)
    l.add_argument("--heartbeat", type=float, default=60)
    l.add_argument("--report", type=float, default=300, help="small-report interval (0: none)")
    l.add_argument("--long-poll", action="store_true")
    l.add_argument("--idle", type=float, default=IDLE_CLOSE, help="close an agent's connection idle this long (the agent's client: 20 s)")
    l.add_argument("--full-rate", type=float, default=0, help="full reports per second in the burst (0: none)")
    l.add_argument("--full-seconds", type=float, default=10)
    l.add_argument("--full-after", type=float, default=0)
    l.add_argument("--inventory", help="a jump host's `cordon-agent inventory --json`")
    l.add_argument("--inventory-size", type=int, default=77_000, help="cut its package list to about this many bytes (0: keep)")
    l.add_argument("--hosts", type=int, default=40, help="live hosts in each full report's scan")
    l.add_argument("--procs", type=int, default=1, help="split the agents over this many processes (not with --full-rate)")
    l.add_argument("--part", default="0/1", help=argparse.SUPPRESS)
    l.add_argument("--raw", help=argparse.SUPPRESS)
    q = sub.choices["push"]
    q.add_argument("--timeout", type=float, default=120)
    q.add_argument("command", nargs=argparse.REMAINDER, help="the push command, after --")
    args = p.parse_args()
    if args.mode == "enroll":
        enroll(args)
    elif args.mode == "load":
        if args.full_rate > 0 and not args.inventory:
            p.error("--full-rate needs --inventory")
        k, _, n = args.part.partition("/")
        args.part = (int(k), int(n))
        if args.procs > 1:
            if args.full_rate > 0:
                p.error("--procs is for the steady load; the burst runs in one process")
            load_in_processes(args)
        else:
            asyncio.run(load(args))
    else:
        if args.command[:1] == ["--"]:
            args.command = args.command[1:]
        if not args.command:
            p.error("push needs the command to run, after --")
        asyncio.run(push(args))


if __name__ == "__main__":
    main()
