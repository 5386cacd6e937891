#!/usr/bin/env python3
"""Compare port states: a cordon ScanReport (JSON) against nmap's greppable output (-oG).

Both sides are reduced to {(address, port): state} for the TCP ports that are not closed
(closed is the default state of both reports: cordon lists open and filtered TCP ports, nmap
lists the ports outside its "Ignored State"). Addresses cordon counted as down (every probe
unanswered) are expanded to "filtered" on every probed port, as nmap -Pn reports them.

usage: compare_states.py cordon.json nmap.gnmap PORT[,PORT...] SCOPE-ADDRESSES-FILE
prints: one line "agree=N disagree=M total=T" and up to 10 disagreements.
"""
import json
import re
import sys


def cordon_states(path, ports, addresses):
    report = json.load(open(path))
    states = {}
    listed = set()
    for host in report["hosts"]:
        listed.add(host["address"])
        for s in host["services"]:
            if s["proto"] == "tcp" and s["port"] in ports and s["state"] != "closed":
                states[(host["address"], s["port"])] = s["state"]
    for address in addresses:
        if address not in listed:  # down: nothing answered
            for port in ports:
                states[(address, port)] = "filtered"
    return states


def nmap_states(path, ports):
    states = {}
    for line in open(path):
        m = re.match(r"Host: (\S+) .*Ports: (.*?)(\tIgnored State:.*)?$", line.rstrip("\n"))
        if not m:
            continue
        address = m.group(1)
        for entry in m.group(2).split(", "):
            fields = entry.split("/")
            if len(fields) < 3 or fields[2] != "tcp":
                continue
            port, state = int(fields[0]), fields[1]
            if port in ports and state != "closed":
                states[(address, port)] = state
    return states


def main():
    cordon_json, nmap_gnmap, port_list, addresses_file = sys.argv[1:5]
    ports = {int(p) for p in port_list.split(",")}
    addresses = [a.strip() for a in open(addresses_file) if a.strip()]
    a = cordon_states(cordon_json, ports, addresses)
    b = nmap_states(nmap_gnmap, ports)
    wanted = set(addresses)
    keys = {k for k in set(a) | set(b) if k[0] in wanted}
    total = len(addresses) * len(ports)
    disagree = sorted(k for k in keys if a.get(k, "closed") != b.get(k, "closed"))
    print(f"agree={total - len(disagree)} disagree={len(disagree)} total={total}")
    for k in disagree[:3]:
        print(f"  {k[0]}:{k[1]} cordon={a.get(k, 'closed')} nmap={b.get(k, 'closed')}")


if __name__ == "__main__":
    main()
