#!/usr/bin/env python3
"""first_store.py - is a new series in the database when its first C-STORE
is answered?

usage: first_store.py PORT CALLED_AET DATASET SOP_CLASS SOP_INSTANCE DB SERIES

A minimal DICOM upper-layer client (PS3.8), with the standard library only:
it associates with 127.0.0.1:PORT (one presentation context: SOP_CLASS in
Explicit VR Little Endian), sends DATASET (a bare data set in that transfer
syntax, as `dump2dcm -F +te` writes it) in one C-STORE-RQ (PS3.7 9.3.1.1),
reads the C-STORE-RSP and then, with the association still open, counts the
rows of SERIES in DB (sqlite3, read-only), before it sends A-RELEASE-RQ.  A
receiver that commits only at the end of the association (or later) shows 0
here, even though it answered success.

Prints "status 0xSSSS, series rows N, instances M" and exits 0 when the
store succeeded and the row was there, 1 when not, 2 on a protocol error.
"""

import socket
import sqlite3
import struct
import sys

APP_CONTEXT = "1.2.840.10008.3.1.1.1"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPL_CLASS_UID = "1.2.826.0.1.3680043.10.1234.90.99"
MAX_PDU = 131072


def item(kind, body):
    return struct.pack(">BBH", kind, 0, len(body)) + body


def even(b, pad):
    return b + pad if len(b) % 2 else b


def associate_rq(calling, called, sop_class):
    pc = (struct.pack(">BBBB", 1, 0, 0, 0)
          + item(0x30, sop_class.encode()) + item(0x40, EXPLICIT_LE.encode()))
    user = item(0x51, struct.pack(">I", MAX_PDU)) + item(0x52, IMPL_CLASS_UID.encode())
    body = (struct.pack(">HH", 1, 0) + called.encode().ljust(16)[:16]
            + calling.encode().ljust(16)[:16] + bytes(32)
            + item(0x10, APP_CONTEXT.encode()) + item(0x20, pc) + item(0x50, user))
    return struct.pack(">BBI", 0x01, 0, len(body)) + body


def element(group, elem, value):
    """An implicit VR little endian element of the command set (PS3.7 E)."""
    return struct.pack("<HHI", group, elem, len(value)) + value


def store_rq(sop_class, sop_instance):
    cmd = (element(0, 0x0002, even(sop_class.encode(), b"\0"))
           + element(0, 0x0100, struct.pack("<H", 0x0001))      # C-STORE-RQ
           + element(0, 0x0110, struct.pack("<H", 1))           # Message ID
           + element(0, 0x0700, struct.pack("<H", 0))           # priority
           + element(0, 0x0800, struct.pack("<H", 0x0000))      # data set follows
           + element(0, 0x1000, even(sop_instance.encode(), b"\0")))
    return element(0, 0x0000, struct.pack("<I", len(cmd))) + cmd


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


def recv_pdu(s):
    kind, _, length = struct.unpack(">BBI", recv_exact(s, 6))
    return kind, recv_exact(s, length)


def send_pdvs(s, ctx, data, command, max_pdu):
    """P-DATA-TF PDUs of at most max_pdu bytes, one PDV each."""
    # the PDU's variable field holds the PDV: length (4), id, header, data
    room = max_pdu - 6 if max_pdu else max(len(data), 1)
    off = 0
    while True:
        part = data[off:off + room]
        off += len(part)
        last = off >= len(data)
        hdr = (0x01 if command else 0x00) | (0x02 if last else 0x00)
        pdv = struct.pack(">IBB", len(part) + 2, ctx, hdr) + part
        s.sendall(struct.pack(">BBI", 0x04, 0, len(pdv)) + pdv)
        if last:
            return


def parse_ac(body):
    """(presentation context result, receiver's maximum PDU length)."""
    result, max_pdu, off = None, 0, 68
    while off + 4 <= len(body):
        kind, length = body[off], struct.unpack(">H", body[off + 2:off + 4])[0]
        value = body[off + 4:off + 4 + length]
        if kind == 0x21:
            result = value[2]
        elif kind == 0x50:
            sub = 0
            while sub + 4 <= len(value):
                skind, slen = value[sub], struct.unpack(">H", value[sub + 2:sub + 4])[0]
                if skind == 0x51:
                    max_pdu = struct.unpack(">I", value[sub + 4:sub + 8])[0]
                sub += 4 + slen
        off += 4 + length
    return result, max_pdu


def response_status(s):
    """Reads P-DATA-TF until the last command fragment; its Status."""
    cmd = b""
    while True:
        kind, body = recv_pdu(s)
        if kind != 0x04:
            raise ConnectionError("expected P-DATA-TF, got PDU type %d" % kind)
        off = 0
        while off < len(body):
            length = struct.unpack(">I", body[off:off + 4])[0]
            hdr = body[off + 5]
            cmd += body[off + 6:off + 4 + length]
            off += 4 + length
            if hdr & 0x01 and hdr & 0x02:
                off = 0
                while off + 8 <= len(cmd):
                    g, e, n = struct.unpack("<HHI", cmd[off:off + 8])
                    if (g, e) == (0, 0x0900):
                        return struct.unpack("<H", cmd[off + 8:off + 10])[0]
                    off += 8 + n
                raise ConnectionError("no Status in the C-STORE-RSP")


def count_rows(db, series):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    try:
        rows = con.execute("SELECT count(*) FROM series WHERE series_uid = ?",
                           (series,)).fetchone()[0]
        inst = con.execute("SELECT count(*) FROM instance WHERE series_uid = ?",
                           (series,)).fetchone()[0]
    finally:
        con.close()
    return rows, inst


def main():
    if len(sys.argv) != 8:
        sys.stderr.write(__doc__)
        return 2
    port, called, path, sop_class, sop_instance, db, series = sys.argv[1:]
    with open(path, "rb") as f:
        dataset = f.read()
    try:
        s = socket.create_connection(("127.0.0.1", int(port)), timeout=30)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(associate_rq("BENCH", called, sop_class))
        kind, body = recv_pdu(s)
        if kind != 0x02:
            print("association not accepted (PDU type %d)" % kind)
            return 2
        result, max_pdu = parse_ac(body)
        if result != 0:
            print("presentation context not accepted (result %s)" % result)
            return 2
        send_pdvs(s, 1, store_rq(sop_class, sop_instance), True, max_pdu)
        send_pdvs(s, 1, dataset, False, max_pdu)
        status = response_status(s)
        rows, inst = count_rows(db, series)      # association still open
        s.sendall(struct.pack(">BBI", 0x05, 0, 4) + bytes(4))   # A-RELEASE-RQ
        recv_pdu(s)
        s.close()
    except (OSError, ConnectionError, sqlite3.Error) as e:
        print("error: %s" % e)
        return 2
    print("status 0x%04x, series rows %d, instances %d" % (status, rows, inst))
    return 0 if status == 0 and rows == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
