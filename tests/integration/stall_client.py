#!/usr/bin/env python3
"""stall_client.py - a DICOM client that stops talking, for the timeout tests.

usage: stall_client.py MODE PORT [--host H] [--max S] [--min S]
                       [--calling AET] [--called AET]

MODE
  silent       connect and send nothing
  partial-rq   send the first 8 bytes of an A-ASSOCIATE-RQ that announces 200
  stall-pdata  associate for Verification (PS3.8 9.3.2: application context,
               one presentation context 1.2.840.10008.1.1 with Implicit VR
               Little Endian, user information with maximum length), read the
               A-ASSOCIATE-AC, then send a P-DATA-TF header announcing 100
               bytes and only 10 of them

Then it waits, reading and discarding anything the server sends (an A-ABORT,
say), until the server closes the connection (end of file or reset).  It
prints "closed after N.NN s" (counted from the moment it stopped sending) and
exits 0 if that took at least --min and at most --max seconds, 1 if not (or if
it was still open after --max + 5 s), 2 if the protocol went wrong before the
stall (refused connection, no A-ASSOCIATE-AC).
"""

import argparse
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dicom_peer import associate_rq, recv_exact  # noqa: E402  the PDUs, once


def wait_closed(s, limit):
    """Seconds until the peer closed the connection, or None after limit."""
    t0 = time.monotonic()
    s.settimeout(0.2)
    while time.monotonic() - t0 < limit:
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - t0
        if not data:
            return time.monotonic() - t0
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["silent", "partial-rq", "stall-pdata", "idle"])
    ap.add_argument("port", type=int)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--max", type=float, default=4.0)
    ap.add_argument("--min", type=float, default=0.0)
    ap.add_argument("--calling", default="STALLER")
    ap.add_argument("--called", default="HRAUDIT")
    a = ap.parse_args()

    try:
        s = socket.create_connection((a.host, a.port), timeout=5)
    except OSError as e:
        print("cannot connect: %s" % e)
        return 2
    try:
        if a.mode == "partial-rq":
            # type 1, reserved, length 200, protocol version 1: 8 of 206 bytes
            s.sendall(struct.pack(">BBIH", 0x01, 0, 200, 1))
        elif a.mode in ("stall-pdata", "idle"):
            s.sendall(associate_rq(a.calling, a.called))
            kind, _, length = struct.unpack(">BBI", recv_exact(s, 6))
            body = recv_exact(s, length)
            if kind != 0x02:
                what = {0x03: "A-ASSOCIATE-RJ", 0x07: "A-ABORT"}.get(kind, "?")
                print("expected A-ASSOCIATE-AC (type 2), got type %d %s: %s"
                      % (kind, what, body.hex()))
                return 2
            # idle: associated, then nothing at all (between messages).
            # stall-pdata: a P-DATA-TF announcing 100 bytes; 10 sent: the
            # PDV item's length (96), presentation context 1, a command
            # fragment, 4 bytes.
            if a.mode == "stall-pdata":
                s.sendall(struct.pack(">BBI", 0x04, 0, 100)
                          + struct.pack(">IBB", 96, 1, 0x01) + b"\x00\x00\x00\x00")
    except (OSError, ConnectionError) as e:
        print("connection failed before the stall: %s" % e)
        return 2

    took = wait_closed(s, a.max + 5)
    s.close()
    if took is None:
        print("still open after %.1f s" % (a.max + 5))
        return 1
    print("closed after %.2f s" % took)
    return 0 if a.min <= took <= a.max else 1


if __name__ == "__main__":
    sys.exit(main())
