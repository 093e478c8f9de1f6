#!/usr/bin/env python3
"""dicom_peer.py - a raw DICOM Upper Layer client for the bad-input tests.

It builds the PDUs of PS3.8 9.3 itself (A-ASSOCIATE-RQ with any field, even
absurd ones, P-DATA-TF, A-RELEASE-RQ, A-ABORT) and the DIMSE command sets of
PS3.7 (C-ECHO-RQ, C-STORE-RQ), so that a test can send what storescu would
refuse to: broken PDUs, and data sets with broken encodings.  Python 3
standard library only.

usage: dicom_peer.py catalogue PORT [--echo CMD [--echo-every N]] [--pid PID]
                     [--only NAME,...]
       dicom_peer.py cases
       dicom_peer.py corpus PORT FILE.dcm [--ts explicit,implicit,big]
                     [--uid-root UID] [--only NAME,...]
       dicom_peer.py hold PORT N [--associated K] [--seconds S]
       dicom_peer.py store PORT DATASET --ts explicit|implicit|big
                     --sop-class UID --sop-instance UID

catalogue  runs every bad-network case (dicom_peer.py cases lists them)
           against 127.0.0.1:PORT, each on a connection of its own; after
           each, a C-ECHO of its own, and after every tenth and the last
           also CMD (a shell command, e.g. an echoscu).  It prints
           "ok CASE: what the daemon did (seconds)" when the echoes
           succeeded afterwards and "FAIL CASE: ..." when not, then
           "N cases, M served after".
           With --pid, also fails when the daemon burns CPU while holding
           half-closed connections.  Exit status 0 when every case was
           followed by a successful CMD.
corpus     builds malformed data sets from the valid object FILE.dcm (a
           Part 10 file, as dump2dcm writes it) and C-STOREs each in its own
           association, for each transfer syntax, then a C-ECHO: prints one
           line per case, "CASE TS SOP_INSTANCE_UID SERIES_UID RESULT SERVED"
           (tab-separated), where RESULT is "status=0xNNNN" or "error=WHAT"
           (no response) and SERVED "served" when the C-ECHO then succeeded,
           "not-served" when not.  The series UID of a case is its own.
hold       holds N idle connections open, the first K associated (for
           Verification, calling AE title IDLER) and the others silent,
           until the daemon closes them or S seconds pass; prints
           "holding N connections (K associated)" once they are open, then
           "closed by the daemon: M of N, the last after T s".
store      C-STOREs the bytes of the file DATASET as they are, prints
           "status=0xNNNN".
"""

import argparse
import os
import random
import socket
import struct
import subprocess
import sys
import time

APP_CONTEXT = "1.2.840.10008.3.1.1.1"
VERIFICATION = "1.2.840.10008.1.1"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
TS_BY_NAME = {"implicit": IMPLICIT_LE, "explicit": EXPLICIT_LE,
              "big": EXPLICIT_BE}
IMPL_CLASS_UID = "1.2.826.0.1.3680043.10.1234.99.1"

# PDU types (PS3.8 9.3.1)
A_ASSOCIATE_RQ, A_ASSOCIATE_AC, A_ASSOCIATE_RJ = 0x01, 0x02, 0x03
P_DATA_TF, A_RELEASE_RQ, A_RELEASE_RP, A_ABORT = 0x04, 0x05, 0x06, 0x07
PDU_NAMES = {1: "A-ASSOCIATE-RQ", 2: "A-ASSOCIATE-AC", 3: "A-ASSOCIATE-RJ",
             4: "P-DATA-TF", 5: "A-RELEASE-RQ", 6: "A-RELEASE-RP",
             7: "A-ABORT"}


class PeerError(Exception):
    """The conversation did not go as a DICOM peer expects."""


# ---- PDUs ----------------------------------------------------------------------

def item(kind, body, length=None):
    """A PS3.8 item: type, reserved, 2-byte big-endian length, body.  A
    length given explicitly may lie about the body."""
    return struct.pack(">BBH", kind, 0, len(body) if length is None else length) + body


def pdu(kind, body, length=None):
    """A PDU: type, reserved, 4-byte big-endian length, body."""
    return struct.pack(">BBI", kind, 0, len(body) if length is None else length) + body


def ae_field(title):
    if isinstance(title, str):
        title = title.encode("ascii")
    return title.ljust(16, b" ")[:16]


def presentation_context(pcid, abstract, transfer_syntaxes):
    body = struct.pack(">BBBB", pcid, 0, 0, 0)
    if abstract is not None:
        body += item(0x30, abstract if isinstance(abstract, bytes) else abstract.encode())
    for ts in transfer_syntaxes:
        body += item(0x40, ts if isinstance(ts, bytes) else ts.encode())
    return item(0x20, body)


def user_info(max_pdu=16384, impl_uid=IMPL_CLASS_UID, extra=b""):
    body = b""
    if max_pdu is not None:
        body += item(0x51, struct.pack(">I", max_pdu))
    if impl_uid is not None:
        body += item(0x52, impl_uid.encode())
    return item(0x50, body + extra)


def associate_rq(calling="PEER", called="HRAUDIT", contexts=None, version=1,
                 app_context=APP_CONTEXT, user=None, extra=b"", length=None):
    """An A-ASSOCIATE-RQ (PS3.8 9.3.2).  contexts: a list of items (bytes)
    or of (id, abstract syntax, [transfer syntaxes]); user: the user
    information item (bytes), default maximum length 16384."""
    if contexts is None:
        contexts = [(1, VERIFICATION, [IMPLICIT_LE])]
    body = struct.pack(">HH", version, 0) + ae_field(called) + ae_field(calling) + bytes(32)
    if app_context is not None:
        body += item(0x10, app_context if isinstance(app_context, bytes) else app_context.encode())
    for c in contexts:
        body += c if isinstance(c, bytes) else presentation_context(*c)
    body += user_info() if user is None else user
    return pdu(A_ASSOCIATE_RQ, body + extra, length)


def pdv(pcid, data, command, last=True, length=None):
    """One presentation data value item (PS3.8 9.3.5.1, E.2)."""
    header = (0x01 if command else 0) | (0x02 if last else 0)
    n = len(data) + 2 if length is None else length
    return struct.pack(">IBB", n, pcid, header) + data


def p_data(*pdvs, length=None):
    return pdu(P_DATA_TF, b"".join(pdvs), length)


RELEASE_RQ = pdu(A_RELEASE_RQ, bytes(4))
ABORT = pdu(A_ABORT, bytes([0, 0, 0, 0]))


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def read_pdu(s):
    """(type, body) of the next PDU; ConnectionError when closed."""
    kind, _, length = struct.unpack(">BBI", recv_exact(s, 6))
    if length > 1 << 24:
        raise PeerError("absurd PDU length %d from the daemon" % length)
    return kind, recv_exact(s, length)


def describe(kind, body):
    """A PDU received, in words."""
    name = PDU_NAMES.get(kind, "PDU type 0x%02x" % kind)
    if kind == A_ASSOCIATE_RJ and len(body) >= 4:
        return "%s (result %d, source %d, reason %d)" % (name, body[1], body[2], body[3])
    if kind == A_ABORT and len(body) >= 4:
        return "%s (source %d, reason %d)" % (name, body[2], body[3])
    return name


def accepted_contexts(body):
    """{context id: transfer syntax} of the contexts an A-ASSOCIATE-AC accepts."""
    out, p = {}, 68
    while p + 4 <= len(body):
        kind, _, n = struct.unpack(">BBH", body[p:p + 4])
        v = body[p + 4:p + 4 + n]
        if kind == 0x21 and len(v) >= 4 and v[2] == 0:
            q = 4
            while q + 4 <= len(v):
                k2, _, n2 = struct.unpack(">BBH", v[q:q + 4])
                if k2 == 0x40:
                    out[v[0]] = v[q + 4:q + 4 + n2].decode("ascii", "replace").rstrip("\0 ")
                q += 4 + n2
        p += 4 + n
    return out


def peer_max_pdu(body):
    p = 68
    while p + 4 <= len(body):
        kind, _, n = struct.unpack(">BBH", body[p:p + 4])
        if kind == 0x50:
            v, q = body[p + 4:p + 4 + n], 0
            while q + 4 <= len(v):
                k2, _, n2 = struct.unpack(">BBH", v[q:q + 4])
                if k2 == 0x51 and n2 == 4:
                    return struct.unpack(">I", v[q + 4:q + 8])[0]
                q += 4 + n2
        p += 4 + n
    return 0


def connect(port, host="127.0.0.1", timeout=5.0):
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Association:
    """A client association: connect, negotiate, DIMSE, release."""

    def __init__(self, port, contexts, calling="PEER", called="HRAUDIT",
                 max_pdu=16384, timeout=5.0):
        self.s = connect(port, timeout=timeout)
        self.s.sendall(associate_rq(calling, called, contexts,
                                    user=user_info(max_pdu)))
        kind, body = read_pdu(self.s)
        if kind != A_ASSOCIATE_AC:
            self.s.close()
            raise PeerError("association refused: " + describe(kind, body))
        self.accepted = accepted_contexts(body)
        self.max_pdu = peer_max_pdu(body) or 1 << 20
        self.message_id = 0

    def send_message(self, pcid, command, dataset=None):
        """Sends a command set and its data set, in PDUs the peer accepts."""
        chunk = max(self.max_pdu - 6 - 6, 64)
        self.s.sendall(p_data(pdv(pcid, command, True)))
        if dataset is None:
            return
        if not dataset:
            self.s.sendall(p_data(pdv(pcid, b"", False)))
            return
        for at in range(0, len(dataset), chunk):
            piece = dataset[at:at + chunk]
            self.s.sendall(p_data(pdv(pcid, piece, False, at + chunk >= len(dataset))))

    def read_status(self):
        """The Status (0000,0900) of the next response command set."""
        command = b""
        while True:
            kind, body = read_pdu(self.s)
            if kind != P_DATA_TF:
                raise PeerError("got " + describe(kind, body) + " instead of a response")
            p = 0
            while p + 6 <= len(body):
                n, _, header = struct.unpack(">IBB", body[p:p + 6])
                command += body[p + 6:p + 4 + n]
                p += 4 + n
                if header & 0x03 == 0x03:
                    return command_status(command)

    def echo(self, pcid=1):
        self.message_id += 1
        self.send_message(pcid, c_echo_rq(self.message_id))
        return self.read_status()

    def store(self, pcid, sop_class, sop_instance, dataset):
        self.message_id += 1
        self.send_message(pcid, c_store_rq(self.message_id, sop_class, sop_instance),
                          dataset)
        return self.read_status()

    def release(self):
        self.s.sendall(RELEASE_RQ)
        try:
            read_pdu(self.s)
        except (OSError, ConnectionError, PeerError):
            pass
        self.s.close()


# ---- command sets (PS3.7 E.1, always implicit VR little endian) ----------------

def cmd_element(group_elem, value):
    g, e = group_elem
    if isinstance(value, int):
        value = struct.pack("<H", value)
    elif isinstance(value, str):
        value = value.encode("ascii")
        if len(value) % 2:
            value += b"\0"
    return struct.pack("<HHI", g, e, len(value)) + value


def command_set(elements, group_length=None):
    """elements: [((0, elem), value)]; a group length given may lie."""
    body = b"".join(cmd_element(t, v) for t, v in elements)
    n = len(body) if group_length is None else group_length
    return cmd_element((0, 0), struct.pack("<I", n & 0xFFFFFFFF)) + body


def c_echo_rq(message_id, group_length=None):
    return command_set([((0, 0x0002), VERIFICATION), ((0, 0x0100), 0x0030),
                        ((0, 0x0110), message_id), ((0, 0x0800), 0x0101)],
                       group_length)


def c_store_rq(message_id, sop_class, sop_instance, group_length=None,
               data_set_type=0x0000):
    return command_set([((0, 0x0002), sop_class), ((0, 0x0100), 0x0001),
                        ((0, 0x0110), message_id), ((0, 0x0700), 0),
                        ((0, 0x0800), data_set_type),
                        ((0, 0x1000), sop_instance)], group_length)


def command_status(command):
    p = 0
    while p + 8 <= len(command):
        g, e, n = struct.unpack("<HHI", command[p:p + 8])
        if (g, e) == (0, 0x0900) and n == 2:
            return struct.unpack("<H", command[p + 8:p + 10])[0]
        p += 8 + n
    raise PeerError("response without a status")


# ---- data sets (PS3.5 7) -------------------------------------------------------

LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC",
            b"UN", b"UR", b"UT", b"UV"}
WORD_SIZE = {b"US": 2, b"SS": 2, b"OW": 2, b"AT": 2, b"UL": 4, b"SL": 4,
             b"FL": 4, b"OF": 4, b"OL": 4, b"FD": 8, b"OD": 8, b"SV": 8,
             b"UV": 8, b"OV": 8}


class Elem:
    """A data element: tag (group, element), VR (2 bytes), and a value
    (bytes, little endian for binary VRs) or, for SQ, a list of items (each
    a list of Elem)."""

    def __init__(self, tag, vr, value):
        self.tag, self.vr, self.value = tag, vr, value

    def copy(self):
        v = self.value
        if self.vr == b"SQ":
            v = [[e.copy() for e in it] for it in v]
        return Elem(self.tag, self.vr, v)


def parse_explicit_le(b, p=0, end=None):
    """Elements of an explicit VR little endian data set (defined lengths,
    or undefined-length sequences)."""
    end = len(b) if end is None else end
    out = []
    while p < end:
        g, e = struct.unpack("<HH", b[p:p + 4])
        if g == 0xFFFE:          # item delimiter of an undefined-length item
            return out, p + 8
        vr = b[p + 4:p + 6]
        if vr in LONG_VRS:
            n = struct.unpack("<I", b[p + 8:p + 12])[0]
            p += 12
        else:
            n = struct.unpack("<H", b[p + 6:p + 8])[0]
            p += 8
        if vr == b"SQ":
            items, p = parse_items(b, p, n)
            out.append(Elem((g, e), vr, items))
            continue
        out.append(Elem((g, e), vr, b[p:p + n]))
        p += n
    return out, p


def parse_items(b, p, n):
    items = []
    stop = None if n == 0xFFFFFFFF else p + n
    while stop is None or p < stop:
        g, e, ln = struct.unpack("<HHI", b[p:p + 8])
        p += 8
        if (g, e) == (0xFFFE, 0xE0DD):
            break
        if ln == 0xFFFFFFFF:
            elems, p = parse_explicit_le(b, p, len(b))
        else:
            elems, _ = parse_explicit_le(b, p, p + ln)
            p += ln
        items.append(elems)
    return items, p


def read_part10(path):
    """The data set of a Part 10 file in explicit VR little endian, as Elem."""
    b = open(path, "rb").read()
    if b[128:132] != b"DICM":
        raise PeerError("'%s' is not a Part 10 file" % path)
    glen = struct.unpack("<I", b[140:144])[0]
    start = 144 + glen
    meta, _ = parse_explicit_le(b, 132, start)
    ts = [e.value for e in meta if e.tag == (2, 0x10)]
    if not ts or ts[0].rstrip(b"\0 ") != EXPLICIT_LE.encode():
        raise PeerError("'%s' is not explicit VR little endian" % path)
    elems, _ = parse_explicit_le(b, start)
    return elems


def swap_words(vr, v):
    size = WORD_SIZE.get(vr)
    if not size or len(v) % size:
        return v
    return b"".join(v[i:i + size][::-1] for i in range(0, len(v), size))


def encode(elems, ts, raw_order=False):
    """elems in transfer syntax ts (one of TS_BY_NAME's keys).  An Elem may
    carry .length (a declared length that lies) or .raw (bytes used as is,
    in place of the whole element)."""
    explicit, big = ts != "implicit", ts == "big"
    order = ">" if big else "<"
    seq = elems if raw_order else sorted(elems, key=lambda x: x.tag)
    out = b""
    for el in seq:
        raw = getattr(el, "raw", None)
        if raw is not None:
            out += raw(ts) if callable(raw) else raw
            continue
        g, e = el.tag
        if el.vr == b"SQ":
            value = b""
            for it in el.value:
                body = encode(it, ts, raw_order)
                value += struct.pack(order + "HHI", 0xFFFE, 0xE000, len(body)) + body
        else:
            value = swap_words(el.vr, el.value) if big else el.value
        n = getattr(el, "length", None)
        n = len(value) if n is None else n
        if not explicit:
            out += struct.pack(order + "HHI", g, e, n & 0xFFFFFFFF)
        elif el.vr in LONG_VRS or getattr(el, "long", False):
            out += struct.pack(order + "HH", g, e) + el.vr + b"\0\0" + struct.pack(order + "I", n & 0xFFFFFFFF)
        else:
            out += struct.pack(order + "HH", g, e) + el.vr + struct.pack(order + "H", n & 0xFFFF)
        out += value
    return out


def string_value(s):
    b = s.encode("latin-1") if isinstance(s, str) else s
    return b + b" " if len(b) % 2 else b


def uid_value(s):
    b = s.encode("ascii")
    return b + b"\0" if len(b) % 2 else b


def set_elem(elems, tag, vr, value):
    """A copy of elems with tag set to value (replaced or added)."""
    out = [e.copy() for e in elems if e.tag != tag]
    out.append(Elem(tag, vr, value))
    return out


# ---- the bad-dicom corpus ------------------------------------------------------

TAG_SOP_INSTANCE = (0x0008, 0x0018)
TAG_SERIES = (0x0020, 0x000E)
TAG_CHARSET = (0x0008, 0x0005)
TAG_PIXEL_DATA = (0x7FE0, 0x0010)


def raw_elem(tag, vr, value, length=None, long=False):
    el = Elem(tag, vr, value)
    if length is not None:
        el.length = length
    el.long = long
    return el


def raw_bytes(fn):
    """An Elem standing for bytes made per transfer syntax by fn(ts)."""
    el = Elem((0xFFFF, 0xFFFF), b"UN", b"")
    el.raw = fn
    return el


def elem_header(ts, tag, vr, n):
    """The header of an element with declared length n, in transfer syntax
    ts; vr None for items and delimiters (PS3.5 7.5), which have none."""
    o = ">" if ts == "big" else "<"
    h = struct.pack(o + "HH", *tag)
    if ts == "implicit" or vr is None:
        return h + struct.pack(o + "I", n & 0xFFFFFFFF)
    if vr in LONG_VRS:
        return h + vr + b"\0\0" + struct.pack(o + "I", n & 0xFFFFFFFF)
    return h + vr + struct.pack(o + "H", n & 0xFFFF)


def nested(depth, ts):
    """An undefined-length sequence nested depth levels deep, each item of
    undefined length, all properly delimited."""
    head = elem_header(ts, (0x0040, 0xA730), b"SQ", 0xFFFFFFFF)
    open_item = elem_header(ts, (0xFFFE, 0xE000), None, 0xFFFFFFFF)
    close_item = elem_header(ts, (0xFFFE, 0xE00D), None, 0)
    close_seq = elem_header(ts, (0xFFFE, 0xE0DD), None, 0)
    return (head + open_item) * depth + (close_item + close_seq) * depth


def corpus_cases():
    """[(name, make(elems, ts) -> data set bytes)].  elems already carry
    the case's own SOP Instance and Series Instance UIDs."""
    def ds(mod):
        return lambda elems, ts: encode(mod([e.copy() for e in elems]), ts)

    def replace(tag, vr, value, length=None, long=False):
        def mod(elems):
            return [e for e in elems if e.tag != tag] + [raw_elem(tag, vr, value, length, long)]
        return ds(mod)

    def add(*extra):
        return ds(lambda elems: elems + list(extra))

    def tail(fn):
        """The valid data set followed by fn(ts)."""
        return lambda elems, ts: encode(elems, ts) + fn(ts)

    def overrun(ts):
        # Study Description declared 4096 bytes, 10 sent, end of data set.
        return elem_header(ts, (0x0008, 0x1030), b"LO", 4096) + b"0123456789"

    def undefined_non_sq(ts):
        return elem_header(ts, (0x0009, 0x0010), b"UT", 0xFFFFFFFF) + b"GEMS_XYZ"

    def huge(ts):
        return elem_header(ts, (0x0019, 0x1001), b"OB", 0xFFFFFFF0) + bytes(64)

    def unterminated_sq(ts):
        return (elem_header(ts, (0x0040, 0xA730), b"SQ", 0xFFFFFFFF)
                + elem_header(ts, (0xFFFE, 0xE000), None, 0xFFFFFFFF)
                + elem_header(ts, (0x0040, 0xA040), b"CS", 4) + b"TEXT")

    def sq_in_string(ts):
        # An LO whose value is the bytes of a sequence item.
        v = (elem_header(ts, (0xFFFE, 0xE000), None, 0xFFFFFFFF)
             + elem_header(ts, (0xFFFE, 0xE0DD), None, 0))
        return elem_header(ts, (0x0008, 0x1040), b"LO", len(v)) + v

    def meta_inside(ts):
        v = uid_value(EXPLICIT_LE)
        return (elem_header(ts, (0x0002, 0x0000), b"UL", 4)
                + struct.pack(">I" if ts == "big" else "<I", 12 + len(v))
                + elem_header(ts, (0x0002, 0x0010), b"UI", len(v)) + v)

    def pixel_first(elems, ts):
        return elem_header(ts, TAG_PIXEL_DATA, b"OW", 512) + bytes(512) + encode(elems, ts)

    def duplicated(elems, ts):
        extra = [e.copy() for e in elems if e.tag in ((0x0008, 0x0060), (0x0018, 0x0022))]
        return encode(elems + extra, ts)

    def reversed_order(elems, ts):
        return encode(list(reversed(elems)), ts, raw_order=True)

    def odd_lengths(elems, ts):
        out = []
        for e in elems:
            e = e.copy()
            if e.tag in ((0x0008, 0x1030), (0x0008, 0x103E), (0x0018, 0x1030)):
                e.value = e.value.rstrip(b" ")[:-1] if len(e.value) % 2 == 0 else e.value
                if len(e.value) % 2 == 0:
                    e.value = e.value[:-1]
            out.append(e)
        return encode(out, ts)

    def deep(depth):
        return lambda elems, ts: encode(elems, ts) + nested(depth, ts)

    def deep_no_end(depth):
        return lambda elems, ts: encode(elems, ts) + nested(depth, ts)[:len(nested(depth, ts)) // 2]

    def empty(elems, ts):
        return b""

    def garbage(elems, ts):
        return random.Random(7).randbytes(4096)

    def truncated_half(elems, ts):
        b = encode(elems, ts)
        return b[:len(b) // 2 + 3]

    return [
        ("element-length-overruns-data-set", tail(overrun)),
        ("odd-value-lengths", odd_lengths),
        ("undefined-length-non-sq", tail(undefined_non_sq)),
        ("undefined-length-lo-header",
         replace((0x0008, 0x1030), b"LO", b"CARDIAC", length=0xFFFFFFFF, long=True)),
        ("vr-zz", add(raw_elem((0x0008, 0x1040), b"ZZ", b"ABCD"))),
        ("vr-us-for-ds-kvp", replace((0x0018, 0x0060), b"US", struct.pack("<H", 100))),
        ("vr-us-for-ds-odd-length", replace((0x0018, 0x0060), b"US", b"\x64")),
        ("vr-fd-short-ctdivol", replace((0x0018, 0x9345), b"FD", b"\x01\x02\x03")),
        ("vr-sq-for-string", replace((0x0008, 0x103E), b"SQ", [])),
        ("sq-bytes-in-string", tail(sq_in_string)),
        ("huge-declared-length", tail(huge)),
        ("huge-declared-length-mid", lambda elems, ts: huge(ts) + encode(elems, ts)),
        ("sequence-never-terminated", tail(unterminated_sq)),
        ("nested-100", deep(100)),
        ("nested-10000", deep(10000)),
        ("nested-100000", deep(100000)),
        ("nested-10000-unterminated", deep_no_end(10000)),
        ("charset-unknown", replace(TAG_CHARSET, b"CS", string_value("ISO_IR 999"))),
        ("charset-multi-bogus",
         replace(TAG_CHARSET, b"CS", string_value("\\ISO 2022 IR 87\\BOGUS\\ISO 2022 IR 13"))),
        ("charset-utf8-bad-bytes",
         ds(lambda el: set_elem(set_elem(el, TAG_CHARSET, b"CS", string_value("ISO_IR 192")),
                                (0x0008, 0x1030), b"LO", string_value(b"Card\xc3\x28\xff\xfe CTA")))),
        ("charset-jis-escape-garbage",
         ds(lambda el: set_elem(set_elem(el, TAG_CHARSET, b"CS", string_value("\\ISO 2022 IR 87")),
                                (0x0008, 0x0080), b"LO", string_value(b"\x1b$B\x7f\x7f\x1b(J\x1b")))),
        ("control-bytes-in-strings",
         replace((0x0008, 0x1010), b"SH", string_value(b"CT\x00\x01\x1b\x7f\xff"))),
        ("duplicated-tags", duplicated),
        ("out-of-order-tags", reversed_order),
        ("empty-data-set", empty),
        ("random-bytes", garbage),
        ("cut-in-half", truncated_half),
        ("meta-header-inside", lambda elems, ts: meta_inside(ts) + encode(elems, ts)),
        ("pixel-data-first", pixel_first),
        ("no-sop-instance-uid", ds(lambda el: [e for e in el if e.tag != TAG_SOP_INSTANCE])),
        ("overlong-uid", ds(lambda el: [e if e.tag != TAG_SERIES else
                                        Elem(TAG_SERIES, b"UI", uid_value(
                                            e.value.rstrip(b"\0").decode() + "." + "9" * 500))
                                        for e in el])),
    ]


def corpus(a):
    """Sends each corpus case in each transfer syntax; one line per case."""
    base = read_part10(a.file)
    cases = corpus_cases()
    if a.only:
        cases = [c for c in cases if c[0] in a.only.split(",")]
    tss = a.ts.split(",")
    for ti, ts in enumerate(tss):
        for ci, (name, make) in enumerate(cases, 1):
            inst = "%s.%d.%d" % (a.uid_root, ti + 1, ci)
            series = "%s.%d.%d.1" % (a.uid_root, ti + 1, ci)
            elems = set_elem(set_elem(base, TAG_SOP_INSTANCE, b"UI", uid_value(inst)),
                             TAG_SERIES, b"UI", uid_value(series))
            data = make(elems, ts)
            if len(data) % 2:
                # DCMTK aborts on a data set fragment of odd length (PS3.7
                # annex F: fragments are even), before any parsing: the
                # catalogue has that case (data-set-odd-length).  Here a second odd
                # element makes the whole even, the odd element stays.
                data += encode([Elem((0x0099, 0x0010), b"LO", b"X")], ts)
            result = send_store(a.port, ts, inst, data)
            served = "served" if echo_ok(a.port) else "not-served"
            print("%s\t%s\t%s\t%s\t%s\t%s" % (name, ts, inst, series, result, served),
                  flush=True)
    return 0


def send_store(port, ts, sop_instance, data, sop_class=CT_IMAGE_STORAGE,
               timeout=10.0):
    """C-STORE data in its own association proposing only ts; returns
    "status=0xNNNN" or "error=WHAT"."""
    try:
        assoc = Association(port, [(1, sop_class, [TS_BY_NAME[ts]])], timeout=timeout)
    except (OSError, ConnectionError, PeerError) as e:
        return "error=association: %s" % e
    try:
        if assoc.accepted.get(1) != TS_BY_NAME[ts]:
            return "error=transfer syntax %s not accepted" % ts
        status = assoc.store(1, sop_class, sop_instance, data)
        assoc.release()
        return "status=0x%04X" % status
    except socket.timeout:
        return "error=no response within %.0f s" % timeout
    except (OSError, ConnectionError, PeerError) as e:
        return "error=%s" % str(e).replace("\t", " ")
    finally:
        assoc.s.close()


# ---- the bad-network catalogue -------------------------------------------------

def reaction(s, wait=2.0):
    """What the daemon does after a case sent its bytes: the PDUs it sends,
    and whether it closes the connection within `wait` seconds."""
    seen = []
    s.settimeout(0.1)
    t0 = time.monotonic()
    buf = b""
    while time.monotonic() - t0 < wait:
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            seen.append("reset")
            break
        if not data:
            seen.append("closed")
            break
        buf += data
        while len(buf) >= 6:
            kind, _, n = struct.unpack(">BBI", buf[:6])
            if len(buf) < 6 + n:
                break
            seen.append(describe(kind, buf[6:6 + n]))
            buf = buf[6 + n:]
    else:
        seen.append("still open after %.1f s" % wait)
    s.close()
    return ", ".join(seen)


def send_raw(port, data, half_close=True, wait=2.0):
    """Connects, sends data, half-closes, reports the reaction."""
    s = connect(port)
    try:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
    except OSError as e:
        s.close()
        return "send failed: %s" % e
    return reaction(s, wait)


def send_close(port, data):
    """Connects, sends data and closes at once (no waiting)."""
    s = connect(port)
    try:
        s.sendall(data)
    except OSError:
        pass
    s.close()
    return "sent %d bytes, closed" % len(data)


def associated(port, contexts=None):
    """An association for Verification and CT Image Storage."""
    return Association(port, contexts or [(1, VERIFICATION, [IMPLICIT_LE]),
                                          (3, CT_IMAGE_STORAGE, [IMPLICIT_LE])])


def after_assoc(data, half_close=True):
    """A case: associate properly, then send data."""
    def run(port):
        a = associated(port)
        try:
            a.s.sendall(data)
            if half_close:
                a.s.shutdown(socket.SHUT_WR)
        except OSError as e:
            a.s.close()
            return "send failed: %s" % e
        return reaction(a.s)
    return run


def raw(data, half_close=True):
    return lambda port: send_raw(port, data, half_close)


def rq_then_echo(**kw):
    """A case: an A-ASSOCIATE-RQ with odd fields; if accepted, a C-ECHO."""
    def run(port):
        s = connect(port)
        s.sendall(associate_rq(**kw))
        try:
            s.settimeout(3)
            kind, body = read_pdu(s)
        except (OSError, ConnectionError, PeerError) as e:
            s.close()
            return "no answer (%s)" % e
        if kind != A_ASSOCIATE_AC:
            s.close()
            return describe(kind, body)
        try:
            s.sendall(p_data(pdv(1, c_echo_rq(1), True)))
            kind, body = read_pdu(s)
            what = "accepted, c-echo: %s" % describe(kind, body)
            s.sendall(RELEASE_RQ)
            kind, body = read_pdu(s)
            what += ", release: %s" % describe(kind, body)
        except (OSError, ConnectionError, PeerError) as e:
            what = "accepted, c-echo failed: %s" % e
        s.close()
        return what
    return run


def mid_dataset(end):
    """A case: a C-STORE whose data set stops half-way, then `end`."""
    def run(port):
        a = associated(port)
        half = encode([Elem((0x0008, 0x0016), b"UI", uid_value(CT_IMAGE_STORAGE)),
                       Elem((0x0008, 0x0018), b"UI", uid_value("1.2.3.4.5")),
                       Elem((0x0008, 0x1030), b"LO", b"X" * 4000)], "implicit")
        a.s.sendall(p_data(pdv(3, c_store_rq(1, CT_IMAGE_STORAGE, "1.2.3.4.5"), True)))
        a.s.sendall(p_data(pdv(3, half[:2000], False, last=False)))
        if end == "abort":
            a.s.sendall(ABORT)
        elif end == "close":
            a.s.close()
            return "closed mid data set"
        elif end == "pdu-cut":
            a.s.sendall(p_data(pdv(3, half[2000:], False))[:100])
            a.s.close()
            return "closed mid pdu"
        elif end == "rst":
            a.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            a.s.close()
            return "reset mid data set"
        return reaction(a.s)
    return run


def half_open_cpu(pid):
    """Connections that send part of a PDU header and half-close, held
    open: the daemon must not spin on them."""
    def run(port):
        socks = []
        for data in (b"\x01", b"\x01\x00\x00", b"\x01\x00\x00\x00\x00"):
            s = connect(port)
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            socks.append(s)
        time.sleep(0.2)
        c0 = cpu_seconds(pid)
        time.sleep(1.0)
        c1 = cpu_seconds(pid)
        for s in socks:
            s.close()
        if c0 is None or c1 is None:
            return "held 3 half-closed connections 1 s (cpu not measured)"
        used = c1 - c0
        if used > 0.2:
            raise PeerError("daemon used %.2f s of cpu in 1 s holding half-closed "
                            "connections" % used)
        return "held 3 half-closed connections 1 s, daemon cpu %.2f s" % used
    return run


def cpu_seconds(pid):
    if not pid:
        return None
    try:
        fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def network_cases(pid=None):
    """[(name, run(port) -> what happened)]."""
    rng = random.Random(20240312)
    rq = associate_rq()
    store_rq_pdu = p_data(pdv(3, c_store_rq(1, CT_IMAGE_STORAGE, "1.2.3.4"), True))
    cases = [
        ("garbage-random-64k", raw(rng.randbytes(65536))),
        ("garbage-random-after-rq-type", raw(b"\x01" + rng.randbytes(4095))),
        ("garbage-zeros", raw(bytes(4096))),
        ("garbage-ff", raw(b"\xff" * 4096)),
        ("http-get", raw(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")),
        ("http-connect", raw(b"CONNECT 127.0.0.1:104 HTTP/1.1\r\n\r\n")),
        ("tls-client-hello", raw(bytes.fromhex("16030100c4010000c00303") + rng.randbytes(196))),
        ("ssh-banner", raw(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")),
        ("connect-close", lambda port: send_close(port, b"")),
    ]
    for cut in (1, 2, 5, 6, 7, 10, 40, 74, len(rq) // 2, len(rq) - 1):
        cases.append(("truncated-associate-rq-%d" % cut, raw(rq[:cut])))
    cases.append(("truncated-associate-rq-closed", lambda port: send_close(port, rq[:50])))
    pdata = p_data(pdv(1, c_echo_rq(1), True))
    for cut in (1, 5, 6, 8, 11, len(pdata) // 2, len(pdata) - 1):
        cases.append(("truncated-p-data-%d" % cut, after_assoc(pdata[:cut])))
    for cut in (1, 5, 6, 9):
        cases.append(("truncated-release-rq-%d" % cut, after_assoc(RELEASE_RQ[:cut])))
    for cut in (1, 6, 9):
        cases.append(("truncated-abort-%d" % cut, after_assoc(ABORT[:cut])))
    for n in (0, 1, 67, 0xFFFFFFFF, (1 << 20) + 1):
        cases.append(("associate-rq-length-%#x" % n, raw(pdu(A_ASSOCIATE_RQ, rq[6:], n))))
    for n in (0, 1, 0xFFFFFFFF):
        cases.append(("p-data-length-%#x" % n, after_assoc(p_data(pdv(1, c_echo_rq(1), True), length=n))))
    cases.append(("release-rq-length-ffffffff", after_assoc(pdu(A_RELEASE_RQ, bytes(4), 0xFFFFFFFF))))
    for t in (0x00, 0x08, 0x7F, 0xFF):
        cases.append(("unknown-pdu-type-%#04x-first" % t, raw(pdu(t, bytes(16)))))
        cases.append(("unknown-pdu-type-%#04x-associated" % t, after_assoc(pdu(t, bytes(16)))))
    cases += [
        ("p-data-before-association", raw(pdata)),
        ("release-rq-before-association", raw(RELEASE_RQ)),
        ("abort-before-association", raw(ABORT)),
        ("associate-ac-from-client", raw(pdu(A_ASSOCIATE_AC, rq[6:]))),
        ("second-associate-rq", after_assoc(rq)),
        ("rq-version-0", rq_then_echo(version=0)),
        ("rq-version-ffff", rq_then_echo(version=0xFFFF)),
        ("rq-called-ae-empty", rq_then_echo(called="")),
        ("rq-calling-ae-empty", rq_then_echo(calling="")),
        ("rq-ae-non-ascii", rq_then_echo(calling=b"\xff\xfe\xc3\xa9" * 4, called=b"\x80" * 16)),
        ("rq-ae-nul-and-control", rq_then_echo(calling=b"A\0\x1b[2J\x07\\", called=b"HRAUDIT\0\0\0")),
        ("rq-fixed-part-only", raw(pdu(A_ASSOCIATE_RQ, rq[6:74]))),
        ("rq-fixed-part-short", raw(pdu(A_ASSOCIATE_RQ, rq[6:60]))),
        ("rq-app-context-overruns", raw(pdu(A_ASSOCIATE_RQ, rq[6:74] + item(0x10, APP_CONTEXT.encode(), 0xFFFF)))),
        ("rq-context-overruns", rq_then_echo(contexts=[item(0x20, bytes(4) + item(0x30, b"1.2"), 2000)])),
        ("rq-abstract-overruns", rq_then_echo(contexts=[item(0x20, struct.pack(">BBBB", 1, 0, 0, 0) + item(0x30, b"1.2", 60000))])),
        ("rq-user-info-overruns", rq_then_echo(user=item(0x50, item(0x51, struct.pack(">I", 16384)), 3000))),
        ("rq-max-length-item-short", rq_then_echo(user=item(0x50, item(0x51, b"\x01")))),
        ("rq-no-contexts", rq_then_echo(contexts=[])),
        ("rq-128-contexts", rq_then_echo(contexts=[(i, VERIFICATION, [IMPLICIT_LE]) for i in range(1, 256, 2)])),
        ("rq-300-contexts", rq_then_echo(contexts=[((i * 2 + 1) & 0xFF, VERIFICATION, [IMPLICIT_LE]) for i in range(300)])),
        ("rq-even-context-id", rq_then_echo(contexts=[(0, VERIFICATION, [IMPLICIT_LE]), (2, VERIFICATION, [IMPLICIT_LE])])),
        ("rq-empty-abstract-syntax", rq_then_echo(contexts=[(1, "", [IMPLICIT_LE])])),
        ("rq-no-abstract-syntax", rq_then_echo(contexts=[(1, None, [IMPLICIT_LE])])),
        ("rq-no-transfer-syntax", rq_then_echo(contexts=[(1, VERIFICATION, [])])),
        ("rq-empty-transfer-syntax", rq_then_echo(contexts=[(1, VERIFICATION, [""])])),
        ("rq-overlong-uids", rq_then_echo(contexts=[(1, "1.2." + "3" * 200, ["1.2." + "4" * 60000])])),
        ("rq-many-transfer-syntaxes", rq_then_echo(contexts=[(1, VERIFICATION, ["1.2.%d" % i for i in range(3000)] + [IMPLICIT_LE])])),
        ("rq-app-context-wrong", rq_then_echo(app_context="1.2.3.4")),
        ("rq-app-context-missing", rq_then_echo(app_context=None)),
        ("rq-app-context-overlong", rq_then_echo(app_context="1." + "2" * 1000)),
        ("rq-max-pdu-0", rq_then_echo(user=user_info(0))),
        ("rq-max-pdu-1", rq_then_echo(user=user_info(1))),
        ("rq-max-pdu-ffffffff", rq_then_echo(user=user_info(0xFFFFFFFF))),
        ("rq-no-user-info", rq_then_echo(user=b"")),
        ("rq-duplicate-user-info", rq_then_echo(user=user_info() + user_info(1) + user_info(0xFFFFFFFF))),
        ("rq-duplicate-max-length", rq_then_echo(user=item(0x50, item(0x51, struct.pack(">I", 16384)) * 50))),
        ("rq-impl-uid-overlong", rq_then_echo(user=user_info(impl_uid="1." + "9" * 3000))),
        ("rq-unknown-user-items", rq_then_echo(user=user_info(extra=item(0x5F, bytes(100)) + item(0x55, b"x" * 5000)))),
        ("rq-role-selection-garbage", rq_then_echo(user=user_info(extra=item(0x54, b"\x00\x10" + b"1.2" + b"\x01")))),
        ("rq-async-window-absurd", rq_then_echo(user=user_info(extra=item(0x53, b"\xff\xff\xff\xff")))),
        ("rq-ext-negotiation-overrun", rq_then_echo(user=user_info(extra=item(0x56, b"\xff\xf0" + b"1.2")))),
        ("rq-user-identity-garbage", rq_then_echo(user=user_info(extra=item(0x58, b"\x09\x01\xff\xff" + b"pw")))),
        ("rq-unknown-item-type", rq_then_echo(extra=item(0xFF, bytes(40)))),
        ("rq-trailing-garbage", rq_then_echo(extra=rng.randbytes(3))),
        ("rq-huge-64k", raw(associate_rq(contexts=[(i, "1." + "2" * 60, [IMPLICIT_LE]) for i in range(1, 256, 2)] * 8))),
        ("abort-mid-data-set", mid_dataset("abort")),
        ("close-mid-data-set", mid_dataset("close")),
        ("data-set-odd-length", after_assoc(store_rq_pdu + p_data(pdv(3, b"\x08\x00\x18", False)))),
        ("close-mid-pdu", mid_dataset("pdu-cut")),
        ("reset-mid-data-set", mid_dataset("rst")),
        ("pdv-longer-than-pdu", after_assoc(p_data(pdv(1, c_echo_rq(1), True, length=5000)))),
        ("pdv-length-0", after_assoc(p_data(pdv(1, b"", True, length=0)))),
        ("pdv-length-1", after_assoc(p_data(pdv(1, b"", True, length=1)))),
        ("pdv-length-ffffffff", after_assoc(p_data(pdv(1, c_echo_rq(1), True, length=0xFFFFFFFF)))),
        ("pdv-trailing-bytes", after_assoc(pdu(P_DATA_TF, pdv(1, c_echo_rq(1), True) + b"\x00\x01\x02"))),
        ("pdv-second-overruns", after_assoc(p_data(pdv(1, c_echo_rq(1)[:20], True, last=False),
                                                   pdv(1, c_echo_rq(1)[20:], True, length=900)))),
        ("pdv-unknown-context", after_assoc(p_data(pdv(9, c_echo_rq(1), True)))),
        ("pdv-context-0", after_assoc(p_data(pdv(0, c_echo_rq(1), True)))),
        ("data-before-command", after_assoc(p_data(pdv(3, bytes(64), False)))),
        ("command-group-length-long", after_assoc(p_data(pdv(1, c_echo_rq(1, group_length=4000), True)))),
        ("command-group-length-short", after_assoc(p_data(pdv(1, c_echo_rq(1, group_length=4), True)))),
        ("command-group-length-ffffffff", after_assoc(p_data(pdv(1, c_echo_rq(1, group_length=0xFFFFFFFF), True)))),
        ("command-element-overruns", after_assoc(p_data(pdv(1, c_echo_rq(1)[:-2] + b"\xff\xff", True)))),
        ("command-not-implicit", after_assoc(p_data(pdv(1, b"\x00\x00\x00\x00UL\x04\x00\x0c\x00\x00\x00" + bytes(12), True)))),
        ("command-unknown-field", after_assoc(p_data(pdv(1, command_set([((0, 0x0100), 0x0FFF), ((0, 0x0110), 1), ((0, 0x0800), 0x0101)]), True)))),
        ("command-c-find", after_assoc(p_data(pdv(1, command_set([((0, 0x0002), VERIFICATION), ((0, 0x0100), 0x0020), ((0, 0x0110), 1), ((0, 0x0800), 0x0101)]), True)))),
        ("store-without-data-set", after_assoc(p_data(pdv(3, c_store_rq(1, CT_IMAGE_STORAGE, "1.2.3", data_set_type=0x0101), True)))),
        ("store-data-set-never-ends", after_assoc(store_rq_pdu + p_data(pdv(3, bytes(100), False, last=False)))),
        ("store-on-verification-context", after_assoc(p_data(pdv(1, c_store_rq(1, CT_IMAGE_STORAGE, "1.2.3"), True)))),
        ("store-no-uids", after_assoc(p_data(pdv(3, command_set([((0, 0x0100), 0x0001), ((0, 0x0110), 1), ((0, 0x0800), 0)]), True)))),
    ]
    cases.append(("half-open-no-spin", half_open_cpu(pid)))
    return cases


def echo_ok(port):
    """One C-ECHO in an association of its own answered Success."""
    try:
        assoc = Association(port, [(1, VERIFICATION, [IMPLICIT_LE])], calling="ECHOPEER")
    except (OSError, ConnectionError, PeerError):
        return False
    try:
        ok = assoc.echo() == 0
        assoc.release()
        return ok
    except (OSError, ConnectionError, PeerError):
        return False
    finally:
        assoc.s.close()


def catalogue(a):
    cases = network_cases(a.pid)
    if a.only:
        cases = [c for c in cases if c[0] in a.only.split(",")]
    served, seen = 0, []
    for name, run in cases:
        seen.append(name)
        t0 = time.monotonic()
        try:
            what = run(a.port)
            bad = None
        except socket.timeout:
            what, bad = None, "timed out"
        except (OSError, ConnectionError, PeerError) as e:
            what, bad = None, str(e)
        ok = echo_ok(a.port)
        if ok and a.echo and (len(seen) % a.echo_every == 0 or len(seen) == len(cases)):
            ok = subprocess.run(a.echo, shell=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL).returncode == 0
        if ok:
            served += 1
        if what:
            what += " (%.2f s)" % (time.monotonic() - t0)
        if bad:
            print("FAIL %s: %s" % (name, bad), flush=True)
        elif not ok:
            print("FAIL %s: no c-echo answer afterwards (%s)" % (name, what), flush=True)
        else:
            print("ok %s: %s" % (name, what), flush=True)
    print("%d cases, %d served after" % (len(cases), served))
    return 0 if served == len(cases) else 1


def hold(a):
    """Holds N idle connections (the first --associated of them associated
    for Verification, the others silent) until the daemon closes them or
    --seconds pass; then reports how many the daemon closed, and when."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < a.n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, a.n + 64), hard))
    socks = []
    try:
        for i in range(a.n):
            if i < a.associated:
                socks.append(Association(a.port, [(1, VERIFICATION, [IMPLICIT_LE])],
                                         calling="IDLER").s)
            else:
                socks.append(connect(a.port))
    except (OSError, ConnectionError, PeerError) as e:
        print("could open only %d of %d connections: %s" % (len(socks), a.n, e), flush=True)
        return 2
    print("holding %d connections (%d associated)" % (len(socks), a.associated), flush=True)
    t0 = time.monotonic()
    open_socks, closed_at = list(socks), []
    for s in socks:
        s.setblocking(False)
    while open_socks and time.monotonic() - t0 < a.seconds:
        time.sleep(0.1)
        still = []
        for s in open_socks:
            try:
                data = s.recv(4096)
                if data:
                    still.append(s)
                    continue
            except BlockingIOError:
                still.append(s)
                continue
            except OSError:
                pass
            closed_at.append(time.monotonic() - t0)
            s.close()
        open_socks = still
    for s in open_socks:
        s.close()
    print("closed by the daemon: %d of %d, the last after %.1f s" %
          (len(closed_at), a.n, max(closed_at) if closed_at else 0.0), flush=True)
    return 0


def store(a):
    data = open(a.dataset, "rb").read()
    print(send_store(a.port, a.ts, a.sop_instance, data, a.sop_class))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("catalogue")
    p.add_argument("port", type=int)
    p.add_argument("--echo", help="shell command run after every --echo-every cases")
    p.add_argument("--echo-every", type=int, default=10)
    p.add_argument("--pid", type=int)
    p.add_argument("--only")
    sub.add_parser("cases")
    p = sub.add_parser("corpus")
    p.add_argument("port", type=int)
    p.add_argument("file")
    p.add_argument("--ts", default="explicit,implicit,big")
    p.add_argument("--uid-root", default="1.2.826.0.1.3680043.10.1234.9")
    p.add_argument("--only")
    p = sub.add_parser("hold")
    p.add_argument("port", type=int)
    p.add_argument("n", type=int)
    p.add_argument("--associated", type=int, default=0)
    p.add_argument("--seconds", type=float, default=30)
    p = sub.add_parser("store")
    p.add_argument("port", type=int)
    p.add_argument("dataset")
    p.add_argument("--ts", choices=sorted(TS_BY_NAME), required=True)
    p.add_argument("--sop-class", default=CT_IMAGE_STORAGE)
    p.add_argument("--sop-instance", required=True)
    a = ap.parse_args()
    if a.cmd == "catalogue":
        return catalogue(a)
    if a.cmd == "cases":
        for name, _ in network_cases():
            print(name)
        return 0
    if a.cmd == "corpus":
        return corpus(a)
    if a.cmd == "hold":
        return hold(a)
    return store(a)


if __name__ == "__main__":
    sys.exit(main())
