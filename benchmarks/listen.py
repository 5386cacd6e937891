#!/usr/bin/env python3
"""Accept-and-close TCP listeners with a deep backlog (python's http.server backlog of 5 drops
SYNs under a scan and turns open ports into timeouts). Stops by itself after --seconds.

usage: listen.py --seconds N HOST:PORT [HOST:PORT ...]
"""
import selectors
import socket
import sys
import time


def main():
    args = sys.argv[1:]
    seconds = 600.0
    if args[:1] == ["--seconds"]:
        seconds = float(args[1])
        args = args[2:]
    sel = selectors.DefaultSelector()
    for spec in args:
        host, port = spec.rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, int(port)))
        s.listen(4096)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=0.5):
            while True:
                try:
                    conn, _ = key.fileobj.accept()
                except (BlockingIOError, InterruptedError):
                    break
                conn.close()


if __name__ == "__main__":
    main()
