#!/usr/bin/env python3
"""gen.py - builds the `make bench` workloads into a cache folder, once.

usage: gen.py DATADIR BENCHDIR OUTDIR
       gen.py soak DATADIR OUTDIR

DATADIR is tests/data (study.dump, series-a.dump: the fictional Siemens
cardiac series of the test suite), BENCHDIR is bench/ (enhanced-ct.dump).
OUTDIR receives:

  w1/img0001.dcm ... img0500.dcm    workload 1: one series, 500 CT images
  w2/a1 ... a4/img0001.dcm ...      workload 2: four series of 250 CT images
  w3/enhanced.dcm                   workload 3: one Enhanced CT object, 1 GiB
  first/first.ds                    one CT image of a new series, data set
                                    only (explicit VR little endian), for
                                    bench/first_store.py
  manifest.sh                       the UIDs above, as shell variables
  stamp                             what the cache was built from

A CT image is study.dump + series-a.dump with 512 x 512 16-bit pixels
(512 KiB), its own SOP Instance UID and Instance Number, and the Study and
Series Instance UIDs of the bench (root 1.2.826.0.1.3680043.10.1234.90, under
the test suite's fictional root).  DCMTK's dump2dcm builds one header per
series, with a placeholder SOP Instance UID of the same length as the real
ones; each image is that header with the UID and Instance Number patched,
followed by the Pixel Data element written here (dump2dcm's '=file' would
read 1 GiB into memory for the Enhanced CT object).

The soak workload (`make soak`, tests/soak/soak.sh) is 20 000 small CT
images, 16 x 16 pixels as in study.dump: ten series of 2000 (workload 5),
built on series-a, -b and -c.dump in turn, into OUTDIR/s01 ... s10/, with
its own manifest.sh (SOAK_SERIES_k, SOAK_COUNT), uids.tsv (each file's path
under OUTDIR and its SOP Instance UID) and stamp.

When OUTDIR/stamp matches the inputs, nothing is done: a re-run is quick.
"""

import array
import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys

ROOT = "1.2.826.0.1.3680043.10.1234.90"
STUDY_UID = ROOT + ".1"
ROWS = COLS = 512
W1_IMAGES = 500
W2_ASSOCIATIONS = 4
W2_IMAGES = 250
W3_FRAMES = 2048              # 2048 x 512 KiB = 1 GiB of pixel data
SOP_CT = "1.2.840.10008.5.1.4.1.1.2"
SOAK_SERIES = 10
SOAK_IMAGES = 2000            # per series: 20 000 in all
SOAK_SIZE = 16                # rows and columns, as in study.dump
SOAK_DUMPS = ("series-a.dump", "series-b.dump", "series-c.dump")
VERSION = "1"                 # bump when the output changes


def series_uid(workload, k):
    return "%s.2.%d.%d" % (ROOT, workload, k)


def sop_uid(workload, k, i):
    # "1" then 4 digits: every UID of a series has the same length, so the
    # placeholder (i = 0) can be patched in place; no leading zero (PS3.5 9.1)
    return "%s.3.%d.%d.1%04d" % (ROOT, workload, k, i)


def frame_bytes(rows=ROWS, cols=COLS):
    """One rows x cols frame of 16-bit little endian pixels: a diagonal ramp
    within 12 bits stored (0..4095)."""
    row = array.array("H", range(cols))
    out = array.array("H")
    for y in range(rows):
        out.extend(array.array("H", [((x + y) * 4) & 0x0FFF for x in row]))
    if sys.byteorder != "little":
        out.byteswap()
    return out.tobytes()


def pixel_element(length):
    """(7FE0,0010) OW header, explicit VR little endian, defined length."""
    return struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, length)


def read_dump(path, drop):
    """Lines of a dump2dcm text file, without the tags listed in drop."""
    keep = []
    with open(path, encoding="ascii") as f:
        for line in f:
            m = re.match(r"\s*\(([0-9a-fA-F]{4},[0-9a-fA-F]{4})\)", line)
            if m and m.group(1).lower() in drop:
                continue
            keep.append(line.rstrip("\n"))
    return keep


def set_elements(lines, values):
    """Replaces the value of each top-level tag in values (text after the
    tag, e.g. 'UI [1.2.3]'), and appends the tags that were not there."""
    seen = set()
    out = []
    for line in lines:
        m = re.match(r"\(([0-9a-fA-F]{4},[0-9a-fA-F]{4})\)", line)
        tag = m.group(1).lower() if m else None
        if tag in values:
            out.append("(%s) %s" % (tag, values[tag]))
            seen.add(tag)
        else:
            out.append(line)
    out += ["(%s) %s" % (t, v) for t, v in values.items() if t not in seen]
    return out


def dump2dcm(lines, path, dataset_only=False):
    txt = path + ".txt"
    with open(txt, "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")
    args = ["dump2dcm", "-q", "+te"] + (["-F"] if dataset_only else []) + [txt, path]
    subprocess.run(args, check=True)
    os.unlink(txt)
    with open(path, "rb") as f:
        return f.read()


def study_lines(data):
    # Rows, Columns and the 16 x 16 Pixel Data of study.dump are replaced.
    return read_dump(os.path.join(data, "study.dump"),
                     {"7fe0,0010", "0028,0010", "0028,0011"})


def ct_series(data, out, workload, k, count, frame, size=ROWS,
              dump="series-a.dump"):
    """count CT images of series (workload, k), size x size pixels, the
    series attributes of DATADIR/dump, into folder out."""
    os.makedirs(out)
    placeholder = sop_uid(workload, k, 0)
    lines = study_lines(data) + read_dump(os.path.join(data, dump), set())
    lines = set_elements(lines, {
        "0020,000d": "UI [%s]" % STUDY_UID,
        "0020,000e": "UI [%s]" % series_uid(workload, k),
        "0008,0018": "UI [%s]" % placeholder,
        "0020,0013": "IS [9999]",
        "0028,0010": "US %d" % size,
        "0028,0011": "US %d" % size,
    })
    header = dump2dcm(lines, os.path.join(out, "header.dcm"))
    os.unlink(os.path.join(out, "header.dcm"))
    number = struct.pack("<HH2sH", 0x0020, 0x0013, b"IS", 4) + b"9999"
    # the UID is in the file meta (0002,0003) and the data set (0008,0018)
    assert header.count(placeholder.encode()) == 2, "placeholder UID"
    assert header.count(number) == 1, "placeholder Instance Number"
    tail = pixel_element(len(frame)) + frame
    for i in range(1, count + 1):
        body = header.replace(placeholder.encode(), sop_uid(workload, k, i).encode())
        body = body.replace(number, number[:8] + (b"%-4d" % i))
        with open(os.path.join(out, "img%04d.dcm" % i), "wb") as f:
            f.write(body + tail)


def enhanced(data, bench, out, frame):
    """The Enhanced CT object: header by dump2dcm, then 1 GiB of frames."""
    os.makedirs(out)
    lines = study_lines(data)
    lines = [l for l in lines if not l.startswith("(0020,0037)")]  # in the shared groups
    lines += read_dump(os.path.join(bench, "enhanced-ct.dump"), set())
    lines = set_elements(lines, {
        "0020,000d": "UI [%s]" % STUDY_UID,
        "0020,000e": "UI [%s]" % series_uid(3, 1),
        "0008,0018": "UI [%s]" % sop_uid(3, 1, 1),
        "0028,0010": "US %d" % ROWS,
        "0028,0011": "US %d" % COLS,
        "0028,0008": "IS [%d]" % W3_FRAMES,
    })
    # Per-Frame Functional Groups (C.7.6.16.2): one item per frame.
    lines.append("(5200,9230) SQ (Sequence with explicit length #=%d)" % W3_FRAMES)
    for n in range(1, W3_FRAMES + 1):
        hr = 60 + n % 3                       # 60, 61, 62 bpm
        lines += [
            "(fffe,e000) na (Item with explicit length #=3)",
            "(0018,9118) SQ (Sequence with explicit length #=1)",
            "(fffe,e000) na (Item with explicit length #=2)",
            "(0018,1088) IS [%d]" % hr,
            "(0020,9153) FD %d" % 700,
            "(fffe,e00d) na (ItemDelimitationItem for re-encoding)",
            "(fffe,e0dd) na (SequenceDelimitationItem for re-encod.)",
            "(0020,9111) SQ (Sequence with explicit length #=1)",
            "(fffe,e000) na (Item with explicit length #=3)",
            "(0020,9056) SH [1]",
            "(0020,9057) UL %d" % n,
            "(0020,9157) UL 1\\%d" % n,
            "(fffe,e00d) na (ItemDelimitationItem for re-encoding)",
            "(fffe,e0dd) na (SequenceDelimitationItem for re-encod.)",
            "(0020,9113) SQ (Sequence with explicit length #=1)",
            "(fffe,e000) na (Item with explicit length #=1)",
            "(0020,0032) DS [-80\\-220\\%.1f]" % (-150 - 0.3 * n),
            "(fffe,e00d) na (ItemDelimitationItem for re-encoding)",
            "(fffe,e0dd) na (SequenceDelimitationItem for re-encod.)",
            "(fffe,e00d) na (ItemDelimitationItem for re-encoding)",
        ]
    lines.append("(fffe,e0dd) na (SequenceDelimitationItem for re-encod.)")
    path = os.path.join(out, "enhanced.dcm")
    dump2dcm(lines, path)
    with open(path, "ab") as f:
        f.write(pixel_element(len(frame) * W3_FRAMES))
        for _ in range(W3_FRAMES):
            f.write(frame)


def first(data, out):
    """One small CT image (the 16 x 16 pixels of study.dump) of its own
    series, as a bare data set for bench/first_store.py."""
    os.makedirs(out)
    lines = read_dump(os.path.join(data, "study.dump"), set())
    lines += read_dump(os.path.join(data, "series-a.dump"), set())
    lines = set_elements(lines, {
        "0020,000d": "UI [%s]" % STUDY_UID,
        "0020,000e": "UI [%s]" % series_uid(4, 1),
        "0008,0018": "UI [%s]" % sop_uid(4, 1, 1),
    })
    dump2dcm(lines, os.path.join(out, "first.ds"), dataset_only=True)


def stamp(paths):
    h = hashlib.sha256(VERSION.encode())
    for p in list(paths) + [os.path.abspath(__file__)]:
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest() + "\n"


def fresh(out, want, what):
    """True when out holds what want stamps; otherwise an empty out.tmp."""
    try:
        with open(os.path.join(out, "stamp")) as f:
            if f.read() == want:
                print("workloads: reusing %s" % out)
                return True
    except OSError:
        pass
    print("workloads: building %s (%s, once)" % (out, what), flush=True)
    shutil.rmtree(out + ".tmp", ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out + ".tmp")
    return False


def soak(data, out):
    want = stamp([os.path.join(data, n) for n in ("study.dump",) + SOAK_DUMPS])
    if fresh(out, want, "about 60 MB"):
        return 0
    tmp = out + ".tmp"
    frame = frame_bytes(SOAK_SIZE, SOAK_SIZE)
    with open(os.path.join(tmp, "manifest.sh"), "w") as f, \
         open(os.path.join(tmp, "uids.tsv"), "w") as u:
        f.write("# generated by bench/gen.py soak\n")
        f.write("SOAK_COUNT=%d\n" % SOAK_IMAGES)
        for k in range(1, SOAK_SERIES + 1):
            ct_series(data, os.path.join(tmp, "s%02d" % k), 5, k, SOAK_IMAGES, frame,
                      SOAK_SIZE, SOAK_DUMPS[(k - 1) % len(SOAK_DUMPS)])
            f.write("SOAK_SERIES_%d=%s\n" % (k, series_uid(5, k)))
            for i in range(1, SOAK_IMAGES + 1):
                u.write("s%02d/img%04d.dcm\t%s\n" % (k, i, sop_uid(5, k, i)))
    with open(os.path.join(tmp, "stamp"), "w") as f:
        f.write(want)
    os.rename(tmp, out)
    return 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "soak":
        return soak(sys.argv[2], sys.argv[3])
    if len(sys.argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    data, bench, out = sys.argv[1:]
    want = stamp([os.path.join(data, "study.dump"), os.path.join(data, "series-a.dump"),
                  os.path.join(bench, "enhanced-ct.dump")])
    if fresh(out, want, "about 1.8 GB"):
        return 0
    tmp = out + ".tmp"
    frame = frame_bytes()
    ct_series(data, os.path.join(tmp, "w1"), 1, 1, W1_IMAGES, frame)
    for k in range(1, W2_ASSOCIATIONS + 1):
        ct_series(data, os.path.join(tmp, "w2", "a%d" % k), 2, k, W2_IMAGES, frame)
    enhanced(data, bench, os.path.join(tmp, "w3"), frame)
    first(data, os.path.join(tmp, "first"))
    with open(os.path.join(tmp, "manifest.sh"), "w") as f:
        f.write("# generated by bench/gen.py\n")
        f.write("W1_SERIES=%s\n" % series_uid(1, 1))
        for k in range(1, W2_ASSOCIATIONS + 1):
            f.write("W2_SERIES_%d=%s\n" % (k, series_uid(2, k)))
        f.write("W3_SERIES=%s\n" % series_uid(3, 1))
        f.write("FIRST_SERIES=%s\n" % series_uid(4, 1))
        f.write("FIRST_SOP=%s\n" % sop_uid(4, 1, 1))
        f.write("SOP_CT=%s\n" % SOP_CT)
    with open(os.path.join(tmp, "stamp"), "w") as f:
        f.write(want)
    os.rename(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
