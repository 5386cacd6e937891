# Schemathesis hooks for scripts/api-fuzz (loaded through SCHEMATHESIS_HOOKS).
#
# - Before every call, a digest of every table of the coordinator's database (read-only; the
#   coordinator keeps it in WAL mode, which a reader sees consistently).
# - The check `cordon_db_unchanged_on_4xx`: a request the coordinator rejected (4xx) must not
#   have changed the database. Rejected requests that write on purpose are listed in ALLOWED.
# - Figures: requests made and counts by status, written as JSON to $CORDON_FUZZ_STATS at exit.
import atexit
import collections
import hashlib
import json
import os
import sqlite3

import schemathesis

DB = os.environ.get("CORDON_FUZZ_DB", "")
STATS = os.environ.get("CORDON_FUZZ_STATS")

# (method, path template, status) of rejected requests that may write, and why.
ALLOWED = {
    # GET /v1/secrets writes the `secret.read` audit record before it tries to open the
    # escrowed passwords; when none opens it answers 409. The read of secret material was
    # attempted and is audited on purpose ("no audit, no secret"). Only the audit table may change.
    ("GET", "/v1/secrets", 409): {"auditLog", "sqlite_sequence"},
}

_before = {}
_counts = collections.Counter()
_requests = 0
_checked = 0


def table_digests(path=None):
    """SHA-256 of each table's rows, by table name."""
    uri = "file:" + (path or DB) + "?mode=ro"
    connection = sqlite3.connect(uri, uri=True, timeout=10)
    try:
        names = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        digests = {}
        for name in names:
            h = hashlib.sha256()
            quoted = '"' + name.replace('"', '""') + '"'
            for row in connection.execute(f"SELECT * FROM {quoted} ORDER BY 1"):
                h.update(repr(row).encode())
            digests[name] = h.hexdigest()
        return digests
    finally:
        connection.close()


def _key(case):
    return id(case)


@schemathesis.hook
def before_call(context, case, **kwargs):
    _before[_key(case)] = table_digests()


@schemathesis.hook
def after_call(context, case, response):
    global _requests
    _requests += 1
    _counts[str(response.status_code)] += 1


@schemathesis.check
def cordon_db_unchanged_on_4xx(ctx, response, case):
    """A rejected request (4xx) changes nothing in the database."""
    status = response.status_code
    if not 400 <= status < 500:
        return None
    before = _before.pop(_key(case), None)
    if before is None:
        return None
    global _checked
    _checked += 1
    after = table_digests()
    changed = sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))
    if not changed:
        return None
    allowed = ALLOWED.get((case.method.upper(), case.operation.path, status), set())
    unexpected = [name for name in changed if name not in allowed]
    if unexpected:
        raise AssertionError(
            f"{case.method.upper()} {case.formatted_path} answered {status} but changed the database: tables {', '.join(unexpected)}")
    return None


def _write_stats():
    if not STATS:
        return
    with open(STATS, "w") as f:
        json.dump({"requests": _requests, "statuses": dict(_counts), "checked4xx": _checked}, f)


if __name__ != "__main__":
    atexit.register(_write_stats)


if __name__ == "__main__":
    # `api-fuzz-hooks.py --digest DB`: one line per table, for the script's own probes.
    import sys
    if len(sys.argv) == 3 and sys.argv[1] == "--digest":
        for name, digest in table_digests(sys.argv[2]).items():
            print(name, digest)
