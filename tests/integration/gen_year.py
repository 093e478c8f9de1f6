#!/usr/bin/env python3
"""gen_year.py - a fictional year of cardiac CT for the hraudit "year" test.

Part of the integration suite (tests/integration/test_year.sh drives it).
Everything it writes is FICTIONAL (tests/data/README.md): invented patients,
accession numbers, UIDs under the made-up root 1.2.826.0.1.3680043.10.1234.9,
heart rates and doses.  Python 3 standard library only.

  gen_year.py --out DIR [--seed N] [--year YYYY] [--exams N]
      Writes a year of exams as dump2dcm text dumps, one folder a study,
      DIR/studies/NAME/{study.dump,series-*.dump} (the layout of tests/data:
      build_study in lib.sh turns each folder into DICOM files), and
        DIR/truth.json    the ground truth: every exam, every series, and
                          the non-cardiac series that must be ignored
        DIR/calcium.csv   accession_number,agatston (about 2/3 of the exams)
        DIR/openrem.csv   an OpenREM CT export (one row a study, E1..En
                          event columns; some of our studies missing, some
                          studies that are not ours)

  gen_year.py --expand DIR OUT
      Writes every instance's complete dump, OUT/STUDY/series-X/NNNN.dump,
      as build_study in lib.sh would before running dump2dcm (the same
      rewrites, without several processes per instance), for a fast build.

  gen_year.py --expect DIR KIND [COMMAND OPTIONS] [--digits N]
      Prints, as CSV, what `hraudit KIND [COMMAND OPTIONS] --format csv`
      should print, computed from DIR/truth.json (and DIR/openrem.csv), never
      from a database.  Means and medians with --digits decimals (1).

  gen_year.py --check DIR KIND GOT.csv [COMMAND OPTIONS]
      Compares GOT.csv (hraudit's output) with the expectation: rows matched
      by their key columns (order does not matter), numbers within 0.05 of
      the exact value (so one decimal passes), columns found by name (extra
      ones ignored).  Rows with a zero count may be there or not; so may
      merge rows found on one side only, and a histogram row of the exams
      without heart rate.  Prints one line a difference; exit status 1 if
      there is any.

KIND: summary, weekday, histogram, compliance (rates per scanner, and/or
compliance-exams, a verdict per exam: tables separated by a blank line),
merge (the hraudit commands), and exams (the exam view), series (the series
table), counts, which the test reads with sqlite3.  COMMAND OPTIONS are
those of the hraudit command (--from, --to, --scanner, --scan-type, --by,
--bin, --format, -o, FILE).

The column names hraudit prints are not final: LAYOUTS below is the one
place that names them (first name printed by --expect, the others accepted
in hraudit's output).  Where the brief leaves the meaning open (histogram
bin_to, HRV without OSCRATEVAR, UHR rows on other scanners, unknown
criteria), a constant next to PROTOCOL or LAYOUTS says which reading is
expected.
"""

import argparse
import csv
import datetime
import io
import json
import math
import os
import random
import re
import statistics
import sys

UID_ROOT = "1.2.826.0.1.3680043.10.1234.9"
WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday",
            "Friday", "Saturday"]          # index = strftime('%w')
TOLERANCE = 0.05

# ---- the site -----------------------------------------------------------------

# Three scanners.  Only the Force writes OSCRATEVAR (DOMAIN.md); the
# Definition Flash's older software spells the pulsing end PULSEEND_P.
SCANNERS = {
    "SOMATOM Definition Flash": dict(
        station="CTFLASH01", software="syngo CT VA48A", var=False,
        pulsend="PULSEEND_P", collimation=(0.6, 38.4), share=0.18,
        prefix="DS"),
    "SOMATOM Force": dict(
        station="CTFORCE01", software="syngo CT VB20A", var=True,
        pulsend="PULSEND_P", collimation=(0.6, 115.2), share=0.48,
        prefix="DS"),
    "NAEOTOM Alpha": dict(
        station="CTALPHA01", software="syngo CT VA50A", var=False,
        pulsend="PULSEND_P", collimation=(0.4, 57.6), share=0.34,
        prefix="CorCTA"),
}
UHR_COLLIMATION = (0.2, 19.2)     # NAEOTOM Alpha UHR: 96 x 0.2 mm
UHR_TYPES = ("uhr_spiral_retro", "uhr_seq_diastolic")
SCAN_TYPES = ("flash", "seq_diastolic", "seq_systolic", "spiral_retro",
              "uhr_spiral_retro", "uhr_seq_diastolic")

# Median CTDIvol (mGy) per scanner and scan type, after the seed's results.
CTDIVOL = {
    ("SOMATOM Definition Flash", "flash"): 3.1,
    ("SOMATOM Definition Flash", "seq_diastolic"): 21.1,
    ("SOMATOM Definition Flash", "seq_systolic"): 16.3,
    ("SOMATOM Force", "flash"): 1.8,
    ("SOMATOM Force", "seq_diastolic"): 12.8,
    ("SOMATOM Force", "seq_systolic"): 12.0,
    ("NAEOTOM Alpha", "flash"): 2.7,
    ("NAEOTOM Alpha", "seq_diastolic"): 13.1,
    ("NAEOTOM Alpha", "seq_systolic"): 16.3,
    ("NAEOTOM Alpha", "uhr_seq_diastolic"): 16.6,
    ("NAEOTOM Alpha", "uhr_spiral_retro"): 36.3,
}

# ---- the site protocol (DOMAIN.md, the seed's table), as data -------------------
#
# Rows in order: scan type; hr (low, high) bpm inclusive, None = open; hrv
# "low" or "high"; calcium (low, high) Agatston inclusive; whether the row
# applies on the NAEOTOM Alpha only (the table's footnote).  HRV is high
# from HRV_HIGH_MIN_BPM (the published "HR variation >= 10 bpm"); the
# generated hr_var is <= 4 (low) or >= 12 bpm (high), so any threshold from
# 5 to 12 gives the same verdicts.
PROTOCOL = [
    ("flash",             (None, 59), "low",  (0, 0),              False),
    ("seq_diastolic",     (60, 65),   "low",  (0, 100),            False),
    ("seq_systolic",      (66, None), "high", (0, 100),            False),
    ("uhr_spiral_retro",  (61, None), "high", (100.000001, None),  True),
    ("uhr_seq_diastolic", (None, 59), "low",  (100.000001, None),  True),
]
HRV_HIGH_MIN_BPM = 10

# Where the brief and DOMAIN.md leave a choice (one place, to adapt):
# HRV without OSCRATEVAR (Definition Flash, Alpha): unknown (False), or the
# range hr_max - hr_min (True).
HRV_FROM_RANGE = False
# The UHR rows on another scanner: they do not apply (True: such an exam
# may match no row), or they do and the exam is non-compliant (False).
UHR_ROWS_ALPHA_ONLY = True
# An unknown criterion (calcium score, HRV): True, it may match either way:
# the rows are tried in order, each row that may match adds its scan type
# to the expected ones, the first row that surely matches ends the search,
# and the exam is compliant when its scan type is one of them ("partial"
# when an unknown criterion was needed).  False: the verdict is unknown.
UNKNOWN_MAY_MATCH = True
# Without heart rate, or when no row matches: verdict unknown.


def in_range(x, lo_hi):
    lo, hi = lo_hi
    return (lo is None or x >= lo) and (hi is None or x <= hi)


def hrv_of(e):
    if e["hr_var"] is not None:
        return e["hr_var"]
    if HRV_FROM_RANGE and e["hr_min"] is not None and e["hr_max"] is not None:
        return e["hr_max"] - e["hr_min"]
    return None


def judge(e):
    """(expected scan types or None, partial) for exam e."""
    if e["hr_avg"] is None:
        return None, False
    hrv = hrv_of(e)
    level = None if hrv is None else "high" if hrv >= HRV_HIGH_MIN_BPM else "low"
    codes, partial = [], False
    for code, hr, want_hrv, ca, alpha_only in PROTOCOL:
        if alpha_only and UHR_ROWS_ALPHA_ONLY and e["scanner"] != "NAEOTOM Alpha":
            continue
        if not in_range(e["hr_avg"], hr):
            continue
        if level is not None and level != want_hrv:
            continue
        if e["calcium"] is not None and not in_range(e["calcium"], ca):
            continue
        sure = level is not None and e["calcium"] is not None
        if not sure and not UNKNOWN_MAY_MATCH:
            return None, False
        partial = partial or not sure
        if code not in codes:
            codes.append(code)
        if sure:
            break
    return (codes or None), (partial if codes else False)


def verdict(e):
    want, _ = judge(e)
    if want is None:
        return "unknown"
    return "compliant" if e["scan_type"] in want else "non_compliant"

# ---- generation ------------------------------------------------------------------

# Patient categories: the table's rows 1-5, and 6 = off the table
# (HR < 60, low HRV, calcium 1-100: no row matches).
CATEGORY_WEIGHTS = {
    "SOMATOM Definition Flash": [35, 25, 28, 4, 3, 5],
    "SOMATOM Force": [40, 20, 30, 3, 2, 5],
    "NAEOTOM Alpha": [18, 10, 15, 26, 25, 6],
}
CATEGORY_TYPE = ["flash", "seq_diastolic", "seq_systolic", "uhr_spiral_retro",
                 "uhr_seq_diastolic", "seq_diastolic"]
NON_COMPLIANT_P = 0.12


def draw_patient(rng, cat):
    """(hr_avg, hrv_high, calcium) for a patient of category cat (0-5)."""
    hr = {0: (47, 59), 1: (60, 65), 2: (66, 92), 3: (61, 88), 4: (46, 59),
          5: (50, 59)}[cat]
    high = cat in (2, 3)
    if cat == 0:
        ca = 0.0
    elif cat in (1, 2):
        ca = 0.0 if rng.random() < 0.35 else round(rng.uniform(0.5, 100), 1)
    elif cat in (3, 4):
        ca = round(rng.uniform(101, 1500), 1)
    else:
        ca = round(rng.uniform(1, 100), 1)
    return rng.randint(*hr), high, ca


def draw_hr_tokens(rng, hr, high, with_var):
    """hr_min, hr_max, hr_var (None without var): HRV low <= 6, high >= 12
    bpm, both as the scanner's variance and as the max - min range."""
    if high:
        lo, hi = rng.randint(6, 10), rng.randint(6, 12)
        var = rng.randint(12, 24)
    else:
        lo, hi = rng.randint(0, 3), rng.randint(0, 3)
        var = rng.randint(0, 4)
    return hr - lo, hr + hi, (var if with_var else None)


def allowed_types(model):
    base = ["flash", "seq_diastolic", "seq_systolic"]
    return base + list(UHR_TYPES) if model == "NAEOTOM Alpha" else base


def choose_scan_type(rng, model, cat):
    want = CATEGORY_TYPE[cat]
    allowed = allowed_types(model)
    if want not in allowed:            # a UHR patient on another scanner
        return "seq_systolic" if cat == 3 else "seq_diastolic"
    if rng.random() < NON_COMPLIANT_P:
        return rng.choice([t for t in allowed if t != want])
    return want


def draw_date(rng, year, weekday=None):
    """A date of the year; weekday (0 = Sunday) forced, else weekends rarer."""
    start = datetime.date(year, 1, 1)
    days = (datetime.date(year + 1, 1, 1) - start).days
    while True:
        d = start + datetime.timedelta(days=rng.randrange(days))
        wd = (d.weekday() + 1) % 7
        if weekday is not None:
            d += datetime.timedelta(days=(weekday - wd) % 7)
            if d.year != year:
                d -= datetime.timedelta(days=7)
            return d
        if rng.random() < (0.3 if wd == 6 else 0.15 if wd == 0 else 1.0):
            return d


def new_accession(rng, used):
    """Ten digits with one to five leading zeros, unique."""
    while True:
        n = rng.randrange(10 ** rng.choice((5, 6, 7, 7, 8, 8, 9)) // 10 + 1,
                          10 ** 9)
        acc = "%010d" % n
        if acc not in used and acc.lstrip("0") not in used:
            used.add(acc)
            return acc


def token_ok(tok):
    assert 0 < len(tok) <= 16 and "\\" not in tok, tok   # CS: 16 bytes a value
    return tok


def scan_options(rng, e, phase):
    """The Scan Options tokens of one reconstruction of exam e."""
    sc = SCANNERS[e["scanner"]]
    st = e["scan_type"]
    rr = int(round(60000.0 / e["hr_avg"])) if e["hr_avg"] else 923
    toks = ["XOP"]
    if st in ("seq_diastolic", "seq_systolic", "uhr_seq_diastolic"):
        if e["seq_mark"] == "DSEQCARD":
            toks += ["DSEQCARD", "0001"]
        toks.append("TRGD")
    elif st == "flash":
        toks.append("TRGD")
    toks += ["RSER%06d" % e["series_base"], "RIMA%06d" % rng.randint(1, 400)]
    toks.append("TP%02dPC%04d" % (phase, rr))
    if e["hr_avg"] is not None:
        toks += ["OSCRATEMIN%03dBPM" % e["hr_min"],
                 "OSCRATEMAX%03dBPM" % e["hr_max"],
                 "OSCRATEAVG%03dBPM" % e["hr_avg"]]
        if e["hr_var"] is not None:
            toks.append("OSCRATEVAR%03dBPM" % e["hr_var"])
    if e["window"]:
        toks += ["PULSTART_P%04dPC" % e["window"][0],
                 "%s%04dPC" % (sc["pulsend"], e["window"][1])]
    toks += ["SYNCUSREDIT_NO", "FRECONTYPE_TIME"]
    if e["scanner"] == "SOMATOM Force":
        toks += ["PITADP_AUTO", "BESTPHASE_OFF", "A4TP000076MS00"]
    if e["scanner"] == "NAEOTOM Alpha":
        rng.shuffle(toks)              # another software: another order
    return "\\".join(token_ok(t) for t in toks)


def recon_phases(rng, e):
    """(phase %, description tail) of each reconstruction of exam e."""
    st = e["scan_type"]
    if st in ("seq_diastolic", "uhr_seq_diastolic"):
        out = [(rng.choice((70, 72, 75)), "BestDiast %d %%")]
        extra = (rng.choice((40, 43)), "BestSyst %d %%")
    elif st == "seq_systolic":
        out = [(rng.choice((38, 40, 42)), "BestSyst %d %%")]
        extra = (rng.choice((35, 44)), "%d %%")
    elif st == "uhr_spiral_retro":
        out = [(rng.choice((70, 72, 75)), "BestDiast %d %%")]
        extra = (rng.choice((38, 40)), "BestSyst %d %%")
    else:
        out = [(rng.choice((60, 65, 68)), "%d %%")]
        extra = (out[0][0], "%d %% Bv56")
    out = [(p, t % p) for p, t in out]
    if e["recon_twice"]:
        out.append((extra[0], extra[1] % extra[0]))
    return out


def description(e, tail):
    sc = SCANNERS[e["scanner"]]
    st = e["scan_type"]
    if st == "flash":
        return "F1_CorCTA  0.6  Bv40  3  " + tail
    if st == "uhr_spiral_retro":
        return "CorCTA UHR  0.2  Bv48  Q3  " + tail
    if st == "uhr_seq_diastolic":
        return "CorCTA 60-80 UHR  0.2  Bv48  Q3  " + tail
    if sc["prefix"] == "CorCTA":
        return ("CorCTA 60-80" if st == "seq_diastolic" else "CorCTA sys") + \
            "  0.4  Bv40  Q3  " + tail
    return ("DS_CorAdSeq" if st == "seq_diastolic" else "DS_SysAdSeq") + \
        "  0.6  Bv40  3  " + tail


def generate(seed, year, n_exams):
    rng = random.Random(seed)
    used = set()
    models = list(SCANNERS)
    exams = []
    for i in range(n_exams):
        model = rng.choices(models, [SCANNERS[m]["share"] for m in models])[0]
        cat = rng.choices(range(6), CATEGORY_WEIGHTS[model])[0]
        hr, high, ca = draw_patient(rng, cat)
        st = choose_scan_type(rng, model, cat)
        sc = SCANNERS[model]
        hr_min, hr_max, hr_var = draw_hr_tokens(rng, hr, high, sc["var"])
        d = draw_date(rng, year, weekday=i % 7 if i < 14 else None)
        e = dict(
            accession=new_accession(rng, used),
            study_uid="%s.%d.1.%d" % (UID_ROOT, seed % 100000, i + 1),
            study_date=d.isoformat(),
            study_time="%02d:%02d:%02d" % (rng.randint(7, 19),
                                           rng.randint(0, 59),
                                           rng.randint(0, 59)),
            weekday=(d.weekday() + 1) % 7,
            scanner=model, scan_type=st, category=cat + 1,
            hr_avg=hr, hr_min=hr_min, hr_max=hr_max, hr_var=hr_var,
            ctdivol=round(CTDIVOL[(model, st)] * rng.uniform(0.7, 1.3), 2),
            calcium=ca if rng.random() < 0.67 else None,
            recon_twice=rng.random() < 0.25,
            uhr=st in UHR_TYPES or (model == "NAEOTOM Alpha" and
                                     st in ("flash", "seq_systolic") and
                                     rng.random() < 0.15),
            seq_mark=rng.choice(("DSEQCARD", "DSEQCARD", "TRGD")),
            window=None, series_base=rng.randint(1, 9),
        )
        e["weekday_name"] = WEEKDAYS[e["weekday"]]
        if st in ("seq_diastolic", "uhr_seq_diastolic"):
            e["window"] = rng.choice(((60, 80), (65, 75), (70, 80), (60, 75)))
        elif st == "seq_systolic":
            e["window"] = rng.choice(((30, 45), (35, 45), (25, 45), (30, 40)))
        elif st == "uhr_spiral_retro" and rng.random() < 0.5:
            e["window"] = (30, 80)
        exams.append(e)

    # Older software on three Definition Flash exams wrote no OSCRATE
    # tokens: exams without heart rate (counted, never averaged).
    flash_scanner = [e for e in exams if e["scanner"] == models[0]]
    for e in rng.sample(flash_scanner, min(3, len(flash_scanner))):
        e["hr_avg"] = e["hr_min"] = e["hr_max"] = e["hr_var"] = None
    # Make sure the edge cases are there whatever the seed.
    alpha = [e for e in exams if e["scanner"] == "NAEOTOM Alpha"]
    for st in ("flash", "seq_systolic"):
        cand = [e for e in alpha if e["scan_type"] == st]
        if cand and not any(e["uhr"] for e in cand):
            cand[0]["uhr"] = True      # a UHR flash stays flash, etc.
    return rng, exams, used


def uid_base(study_uid):
    """ROOT.SEED of ROOT.SEED.1.N: series are ROOT.SEED.2.N.K, instances
    ROOT.SEED.3.N.K.I."""
    return study_uid.rsplit(".1.", 1)[0]


def series_of(rng, e, n):
    """The series of exam e (number n of the year): dicts for the dumps."""
    out = []
    phases = recon_phases(rng, e)
    base = rng.choice((3, 4, 5))
    numbers = [base + k for k in range(len(phases))]
    if len(phases) > 1 and rng.random() < 0.4:
        numbers.reverse()              # the second recon has the lower number
    for k, ((phase, tail), number) in enumerate(zip(phases, numbers)):
        out.append(dict(
            uid="%s.2.%d.%d" % (uid_base(e["study_uid"]), n, k + 1),
            sop_prefix="%s.3.%d.%d" % (uid_base(e["study_uid"]), n,
                                      k + 1),
            number=number, description=description(e, tail),
            scan_options=scan_options(rng, e, phase),
            instances=2 if rng.random() < 0.15 else 1, cardiac=True))
    return out


def non_cardiac_series(rng, study_uid_base, n, k, kind):
    if kind == "thorax":
        desc, proto, pitch, ctdi = "Thorax 1.0 Br40", "Thorax_Routine", 1.2, 5.4
    elif kind == "abdomen":
        desc, proto, pitch, ctdi = "Abdomen 5.0 B30f", "Abdomen_Routine", 0.8, 9.8
    else:
        desc, proto, pitch, ctdi = "Head 5.0 H30s", "Head_Routine", 0.55, 48.0
    return dict(uid="%s.2.%d.%d" % (study_uid_base, n, k),
                sop_prefix="%s.3.%d.%d" % (study_uid_base, n, k),
                number=2, description=desc, protocol=proto, pitch=pitch,
                ctdivol=ctdi, instances=1, cardiac=False,
                scan_options="HELIX" if rng.random() < 0.5 else None)

# ---- dumps -------------------------------------------------------------------------

PIXELS = "\\".join("%04x" % (0x400 + 0x20 * (r + c))
                   for r in range(8) for c in range(8))


def study_dump(st):
    da = st["study_date"].replace("-", "")
    tm = st["study_time"].replace(":", "") + ".000000"
    return f"""\
# study.dump - study {st['name']} of the hraudit year test (FICTIONAL, made by
# tests/integration/gen_year.py; see tests/data/README.md).  The patient is a
# canary: it must never reach the database.

(0008,0005) CS [ISO_IR 100]                             # SpecificCharacterSet
(0010,0010) PN [AUDIT^YEARPATIENT]                      # PatientName (canary)
(0010,0020) LO [PIDY-{st['n']:05d}]                             # PatientID (canary)
(0010,0030) DA [19550505]                               # PatientBirthDate (canary)
(0010,0040) CS [{st['sex']}]                                     # PatientSex
(0020,000d) UI [{st['study_uid']}]
(0008,0020) DA [{da}]                               # StudyDate
(0008,0030) TM [{tm}]                          # StudyTime
(0008,0050) SH [{st['accession']}]                             # AccessionNumber
(0008,0090) PN []                                       # ReferringPhysicianName
(0020,0010) SH [Y{st['n']:05d}]                                 # StudyID
(0008,1030) LO [{st['study_description']}]
(0010,1010) AS [{st['age']:03d}Y]                                   # PatientAge
(0010,1030) DS [{st['weight']}]                                     # PatientWeight, kg

# Image Pixel: 8 x 8 pixels, 16 bits
(0028,0002) US 1
(0028,0004) CS [MONOCHROME2]
(0028,0010) US 8
(0028,0011) US 8
(0028,0100) US 16
(0028,0101) US 12
(0028,0102) US 11
(0028,0103) US 0
(0028,1052) DS [-1024]
(0028,1053) DS [1]
(0028,1054) LO [HU]
(0020,0037) DS [1\\0\\0\\0\\1\\0]
(0020,1040) LO []
(7fe0,0010) OW {PIXELS}
"""


def series_dump(st, s):
    sc = SCANNERS[st["scanner"]]
    da = st["study_date"].replace("-", "")
    lines = [
        "# series-%s.dump - %s (FICTIONAL, gen_year.py)" % (s["label"],
                                                           s["description"]),
        "#",
        "# instances: %d" % s["instances"],
        "",
        "(0008,0008) CS [ORIGINAL\\PRIMARY\\AXIAL]",
        "(0008,0016) UI [1.2.840.10008.5.1.4.1.1.2]              # CT Image Storage",
        "(0008,0018) UI [%s.1]" % s["sop_prefix"],
        "(0020,0013) IS [1]",
        "(0008,0060) CS [CT]",
        "(0020,000e) UI [%s]" % s["uid"],
        "(0020,0011) IS [%d]" % s["number"],
        "(0008,0021) DA [%s]" % da,
        "(0008,0031) TM [%s.000000]" % st["study_time"].replace(":", ""),
        "(0008,103e) LO [%s]" % s["description"],
        "(0018,1030) LO [%s]" % s.get("protocol", "CorCTA_Year"),
        "(0018,5100) CS [HFS]",
        "(0008,0070) LO [SIEMENS]",
        "(0008,0080) LO [Fictional Heart Centre]",
        "(0008,1010) SH [%s]" % sc["station"],
        "(0008,1090) LO [%s]" % st["scanner"],
        "(0018,1020) LO [%s]" % sc["software"],
        "(0020,0052) UI [%s.4.%s]" % (UID_ROOT, s["uid"].rsplit(".2.", 1)[1]),
        "(0018,0060) DS [%d]" % s["kvp"],
        "(0018,9345) FD %s" % s["ctdivol"],
        "(0018,9306) FD %s" % s["collimation"][0],
        "(0018,9307) FD %s" % s["collimation"][1],
        "(0020,0012) IS [1]",
        "(0020,0032) DS [-80\\-220\\-150]",
        "(0028,0030) DS [0.4\\0.4]",
        "(0028,1050) DS [300]",
        "(0028,1051) DS [1500]",
    ]
    if s.get("scan_options"):
        lines.append("(0018,0022) CS [%s]" % s["scan_options"])
    if s.get("pitch"):
        lines.append("(0018,9311) FD %s" % s["pitch"])
    if s.get("modulation"):
        lines.append("(0018,9323) CS [%s]" % s["modulation"])
    return "\n".join(lines) + "\n"


def write_study(root, st):
    d = os.path.join(root, "studies", st["name"])
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "study.dump"), "w") as f:
        f.write(study_dump(st))
    for s in st["series"]:
        with open(os.path.join(d, "series-%s.dump" % s["label"]), "w") as f:
            f.write(series_dump(st, s))

def cmd_expand(root, out):
    """Every instance's complete dump, as build_study (lib.sh) makes them,
    without its processes per instance: OUT/STUDY/series-X/NNNN.dump.
    Instance n: last component of SOPInstanceUID and InstanceNumber = n."""
    studies = os.path.join(root, "studies")
    n_files = 0
    for name in sorted(os.listdir(studies)):
        d = os.path.join(studies, name)
        with open(os.path.join(d, "study.dump")) as f:
            head = f.read()
        for fn in sorted(os.listdir(d)):
            if not (fn.startswith("series-") and fn.endswith(".dump")):
                continue
            with open(os.path.join(d, fn)) as f:
                body = f.read()
            m = re.search(r"^# instances: *(\d+) *$", body, re.M)
            if not m:
                raise SystemExit("gen_year.py: %s lacks '# instances: N'" % fn)
            dest = os.path.join(out, name, fn[:-len(".dump")])
            os.makedirs(dest, exist_ok=True)
            for i in range(1, int(m.group(1)) + 1):
                text, n1 = re.subn(r"^(\(0008,0018\) UI \[[0-9.]*\.)[0-9]+\]",
                                   r"\g<1>%d]" % i, head + body, flags=re.M)
                text, n2 = re.subn(r"^\(0020,0013\) IS \[[0-9]*\]",
                                   "(0020,0013) IS [%d]" % i, text, flags=re.M)
                if n1 != 1 or n2 != 1:
                    raise SystemExit("gen_year.py: cannot set instance %d in %s"
                                     % (i, os.path.join(d, fn)))
                with open(os.path.join(dest, "%04d.dump" % i), "w") as f:
                    f.write(text)
                n_files += 1
    print("%d instance dumps in %s" % (n_files, out))
    return 0

# ---- OpenREM ------------------------------------------------------------------------

OPENREM_COMMON = ["Institution", "Manufacturer", "Model name", "Station name",
                  "Display name", "Accession number", "Operator", "Study date",
                  "Study time", "Age", "Sex", "Height", "Mass (kg)",
                  "Test patient?", "Study description", "Requested procedure",
                  "Study Comments", "No. events", "DLP total (mGy.cm)"]
OPENREM_EVENT = ["Protocol", "Type", "Exposure time", "Scanning length",
                 "Slice thickness", "Total collimation", "Pitch", "No. sources",
                 "CTDIvol", "Phantom", "DLP", "S1 name", "S1 kVp", "S1 max mA",
                 "S1 mA", "S1 Exposure time/rotation", "S2 name", "S2 kVp",
                 "S2 max mA", "S2 mA", "S2 Exposure time/rotation",
                 "mA Modulation type"]
PHANTOM = "IEC Body Dosimetry Phantom"


def event(rng, protocol, typ, ctdivol, length_mm, pitch, sources, coll):
    dlp = round(ctdivol * length_mm / 10.0, 2)
    kv = rng.choice((80, 90, 100, 120))
    ev = {"Protocol": protocol, "Type": typ,
          "Exposure time": "%.2f" % rng.uniform(0.2, 6),
          "Scanning length": "%.1f" % length_mm, "Slice thickness": "",
          "Total collimation": "%.1f" % coll, "Pitch": pitch,
          "No. sources": sources, "CTDIvol": "%.2f" % ctdivol,
          "Phantom": PHANTOM, "DLP": "%.2f" % dlp,
          "S1 name": "A", "S1 kVp": kv, "S1 max mA": rng.randint(300, 900),
          "S1 mA": rng.randint(100, 600),
          "S1 Exposure time/rotation": "0.25", "mA Modulation type": ""}
    if sources == 2:
        ev.update({"S2 name": "B", "S2 kVp": kv,
                   "S2 max mA": rng.randint(300, 900),
                   "S2 mA": rng.randint(100, 600),
                   "S2 Exposure time/rotation": "0.25"})
    return ev, dlp


def openrem_row(rng, st, cardiac_exam):
    """One OpenREM export row (dict) for study st and its events."""
    sc = SCANNERS.get(st["scanner"])
    sources = 1 if st["scanner"] == "NAEOTOM Alpha" else 2
    evs = [event(rng, "Topogram", "Constant Angle Acquisition",
                 round(rng.uniform(0.05, 0.2), 2), rng.uniform(300, 500), "",
                 1, 0.6)]
    if cardiac_exam is not None:
        e = cardiac_exam
        evs.append(event(rng, "TestBolus", "Stationary Acquisition",
                         round(rng.uniform(4, 12), 2), 10, "", 1, 10))
        if rng.random() < 0.6:
            evs.append(event(rng, "CaScSeq", "Sequenced Acquisition",
                             round(rng.uniform(1, 4), 2),
                             rng.uniform(110, 150), "", sources, 38.4))
        spiral = e["scan_type"] in ("flash", "uhr_spiral_retro")
        evs.append(event(
            rng, {"flash": "CorCTA_Flash", "uhr_spiral_retro": "CorCTA_UHR"}
            .get(e["scan_type"], "CorCTA_Seq"),
            "Spiral Acquisition" if spiral else "Sequenced Acquisition",
            e["ctdivol"], rng.uniform(110, 160),
            3.2 if e["scan_type"] == "flash" else
            0.25 if spiral else "", sources,
            UHR_COLLIMATION[1] if e["uhr"] else sc["collimation"][1]))
    else:
        evs.append(event(rng, st["series"][0]["protocol"], "Spiral Acquisition",
                         st["series"][0]["ctdivol"], rng.uniform(300, 500),
                         st["series"][0]["pitch"], 1, 38.4))
    row = {"Institution": "Fictional Heart Centre", "Manufacturer": "SIEMENS",
           "Model name": st["scanner"],
           "Station name": sc["station"] if sc else "",
           "Display name": st["scanner"].replace("SOMATOM ", "") + " 1",
           "Accession number": st["accession"], "Operator": "",
           "Study date": st["study_date"], "Study time": st["study_time"],
           "Age": "%.1f" % (st["age"] + 0.4), "Sex": st["sex"], "Height": "",
           "Mass (kg)": st["weight"], "Test patient?": "",
           "Study description": st["study_description"],
           "Requested procedure": st["study_description"],
           "Study Comments": "", "No. events": len(evs),
           "DLP total (mGy.cm)": "%.2f" % round(sum(d for _, d in evs), 2)}
    return row, [ev for ev, _ in evs]


def write_openrem(path, rows):
    n = max(len(evs) for _, evs in rows)
    header = list(OPENREM_COMMON)
    for k in range(1, n + 1):
        header += ["E%d %s" % (k, c) for c in OPENREM_EVENT]
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(header)
        for row, evs in rows:
            out = [row[c] for c in OPENREM_COMMON]
            for k in range(n):
                ev = evs[k] if k < len(evs) else {}
                out += [ev.get(c, "") for c in OPENREM_EVENT]
            w.writerow(out)


def read_openrem(path):
    """{accession: (no. events, DLP total)} of an OpenREM export."""
    out = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            out[r["Accession number"]] = (int(r["No. events"]),
                                          float(r["DLP total (mGy.cm)"]))
    return out

# ---- --out -------------------------------------------------------------------------


def cmd_out(args):
    rng, exams, used = generate(args.seed, args.year, args.exams)
    root = args.out
    os.makedirs(os.path.join(root, "studies"), exist_ok=True)
    studies, ignored, openrem = [], [], []
    for n, e in enumerate(exams, 1):
        sc = SCANNERS[e["scanner"]]
        st = dict(name="e%03d" % n, n=n, study_uid=e["study_uid"],
                  accession=e["accession"], study_date=e["study_date"],
                  study_time=e["study_time"], scanner=e["scanner"],
                  study_description="Cardiac^CTA Coronary, ECG gated",
                  sex=rng.choice("MF"), age=rng.randint(35, 85),
                  weight=rng.randint(50, 120))
        series = series_of(rng, e, n)
        for s in series:
            s["kvp"] = rng.choice((70, 80, 90, 100, 120))
            s["ctdivol"] = e["ctdivol"]
            s["collimation"] = UHR_COLLIMATION if e["uhr"] else sc["collimation"]
            if e["scan_type"] == "flash":
                s["pitch"] = 3.2
            elif e["scan_type"] == "uhr_spiral_retro":
                s["pitch"] = 0.25
                s["modulation"] = "ECG"
        if rng.random() < 0.15:        # a non-cardiac series in the study
            s = non_cardiac_series(rng, uid_base(e["study_uid"]), n, 9, "thorax")
            s["kvp"], s["collimation"] = 120, sc["collimation"]
            series.append(s)
            ignored.append(dict(uid=s["uid"], accession=e["accession"],
                                description=s["description"]))
        for k, s in enumerate(series):
            s["label"] = "abcdefghij"[k]
        st["series"] = series
        e["series"] = [dict(uid=s["uid"], number=s["number"],
                            description=s["description"],
                            instances=s["instances"])
                       for s in series if s["cardiac"]]
        e["series_count"] = len(e["series"])
        studies.append(st)

    # Non-cardiac studies: sent to us, never recorded; most in OpenREM.
    for j in range(8):
        n = len(exams) + 1 + j
        model = rng.choice(list(SCANNERS))
        d = draw_date(rng, args.year)
        uid = "%s.%d.1.%d" % (UID_ROOT, args.seed % 100000, n)
        kind = "abdomen" if j % 2 else "head"
        s = non_cardiac_series(rng, uid_base(uid), n, 1, kind)
        s["kvp"], s["label"] = 120, "a"
        s["collimation"] = SCANNERS[model]["collimation"]
        st = dict(name="n%02d" % (j + 1), n=n, study_uid=uid,
                  accession=new_accession(rng, used), study_date=d.isoformat(),
                  study_time="%02d:%02d:00" % (rng.randint(7, 19),
                                               rng.randint(0, 59)),
                  scanner=model, study_description="CT " + kind.capitalize(),
                  sex=rng.choice("MF"), age=rng.randint(20, 90),
                  weight=rng.randint(45, 130), series=[s])
        studies.append(st)
        ignored.append(dict(uid=s["uid"], accession=st["accession"],
                            description=s["description"]))
    for st in studies:
        write_study(root, st)

    # OpenREM: ~88 % of our exams, the non-cardiac studies but one, three
    # studies never sent to us, and a trap: the accession of an exam missing
    # from OpenREM without its leading zeros (text keys must not match).
    by_acc = {e["accession"]: e for e in exams}
    missing = set(e["accession"] for e in rng.sample(exams, len(exams) // 8))
    trap = sorted(missing)[0]
    for st in studies:
        e = by_acc.get(st["accession"])
        if e is not None and e["accession"] in missing:
            e["openrem"] = None
            continue
        if e is None and st["name"] == "n01":
            continue
        row, evs = openrem_row(rng, st, e)
        if e is not None:              # the CTA event is the last one
            e["openrem"] = dict(events=row["No. events"],
                                dlp_total=float(row["DLP total (mGy.cm)"]),
                                cta_event=len(evs),
                                cta_dlp=float(evs[-1]["DLP"]))
        openrem.append((row, evs))
    others = []
    for j in range(4):
        acc = trap.lstrip("0") if j == 0 else new_accession(rng, used)
        d = draw_date(rng, args.year)
        st = dict(accession=acc, study_date=d.isoformat(), study_time="11:00:00",
                  scanner=rng.choice(list(SCANNERS)), study_description="CT Chest",
                  sex="F", age=60, weight=70,
                  series=[dict(protocol="Chest_Routine", ctdivol=6.1, pitch=1.0)])
        openrem.append(openrem_row(rng, st, None))
        others.append(acc)
    rng.shuffle(openrem)
    write_openrem(os.path.join(root, "openrem.csv"), openrem)

    # Calcium scores: about 2/3 of the exams, leading zeros kept, plus two
    # rows that must join nothing (an unknown accession; one of ours
    # without its leading zeros, for an exam that has no score).
    rows = [(e["accession"], e["calcium"]) for e in exams
            if e["calcium"] is not None]
    no_score = [e["accession"] for e in exams if e["calcium"] is None]
    rows.append((no_score[0].lstrip("0"), 999.0))
    rows.append(("9999999999", 12.0))
    rng.shuffle(rows)
    with open(os.path.join(root, "calcium.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(["accession_number", "agatston"])
        for acc, ca in rows:
            w.writerow([acc, ("%d" % ca) if ca == int(ca) else ca])

    truth = dict(
        note="FICTIONAL ground truth made by gen_year.py (seed %d)" % args.seed,
        seed=args.seed, year=args.year, weekdays=WEEKDAYS,
        exams=[{k: e[k] for k in (
            "accession", "study_uid", "study_date", "study_time", "weekday",
            "weekday_name", "scanner", "scan_type", "hr_avg", "hr_min",
            "hr_max", "hr_var", "ctdivol", "calcium", "uhr", "category",
            "series_count", "series", "openrem")} for e in exams],
        ignored_series=ignored, openrem_only=others,
        calcium_decoys=[rows_acc for rows_acc, _ in rows
                        if rows_acc not in by_acc])
    with open(os.path.join(root, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1)
        f.write("\n")
    print("%d exams (%d series, %d instances), %d ignored series, %d OpenREM "
          "rows, %d calcium scores in %s" % (
              len(exams), sum(e["series_count"] for e in exams),
              sum(s["instances"] for e in exams for s in e["series"]),
              len(ignored), len(openrem), len(rows) - 2, root))
    return 0

# ---- expectations ----------------------------------------------------------------------


class Col:
    """One output column: the name --expect prints, the names accepted in
    hraudit's output, how values compare (num: within TOLERANCE; int: exact;
    text; weekday, month, verdict: normalised text), whether it is part of
    the row's key, and whether hraudit may leave it out."""

    def __init__(self, name, aliases=(), kind="num", key=False, optional=False):
        self.name, self.aliases = name, (name,) + tuple(aliases)
        self.kind, self.key, self.optional = kind, key, optional


# THE column mapping: edit here when hraudit's output names are final.
GROUP_COLS = {
    "scanner": Col("scanner", ("model", "scanner_model"), "text", key=True),
    "scan_type": Col("scan_type", ("type",), "text", key=True),
    "month": Col("month", (), "month", key=True),
    "year": Col("year", (), "int", key=True),
}
LAYOUTS = {
    "summary": [  # preceded by the --by columns, in their order
        Col("exams", ("count", "n", "exam_count"), "int"),
        Col("exams_with_hr", ("n_hr",), "int", optional=True),
        Col("mean_hr", ("mean_hr_bpm", "hr_mean")),
        Col("median_hr", ("median_hr_bpm", "hr_median")),
        Col("mean_hrv", ("mean_hrv_bpm", "hrv_mean", "mean_hr_var")),
        Col("median_ctdivol", ("median_ctdivol_mgy", "ctdivol_median")),
    ],
    "weekday": [
        Col("scan_type", ("type",), "text", key=True),
        Col("scanner", ("model",), "text", key=True),
        Col("weekday", ("day", "weekday_name"), "weekday", key=True),
        Col("count", ("exams", "n"), "int"),
        Col("mean_hr", ("mean_hr_bpm", "hr_mean")),
    ],
    "histogram": [
        Col("scanner", ("model",), "text", key=True),
        Col("bin_from", ("bin_from_bpm", "from", "hr_from"), "int", key=True),
        Col("bin_to", ("bin_to_bpm", "to", "hr_to"), "int"),
        Col("count", ("exams", "n"), "int"),
    ],
    "compliance": [  # rates per scanner
        Col("scanner", ("model",), "text", key=True),
        Col("exams", ("count", "n"), "int"),
        Col("assessed", ("judged", "assessable", "rated"), "int", optional=True),
        Col("compliant", ("ok", "matching"), "int"),
        Col("non_compliant", ("noncompliant", "non-compliant", "mismatch"),
            "int", optional=True),
        Col("unknown", ("not_assessed", "unassessable", "undetermined",
                        "not_judged"), "int", optional=True),
        Col("partial", (), "int", optional=True),
        Col("compliance_percent", ("rate_percent", "compliance_rate", "rate",
                                   "compliant_percent", "compliance_pct",
                                   "percent_compliant")),
    ],
    "compliance-exams": [  # verdict per exam
        Col("accession_number", ("accession", "Accession number"), "text", key=True),
        Col("study_date", ("date",), "text"),
        Col("scanner", ("model",), "text"),
        Col("scan_type", ("actual_scan_type",), "text"),
        Col("expected_scan_type", ("expected", "protocol_scan_type"), "codes"),
        Col("verdict", ("compliance", "result"), "verdict"),
    ],
    "merge": [
        Col("accession_number", ("Accession number", "accession"), "text", key=True),
        Col("study_date", (), "text", optional=True),
        Col("scanner", ("model",), "text"),
        Col("scan_type", (), "text"),
        Col("hr_avg", ("mean_hr", "hr_avg_bpm"), "num"),
        Col("hr_var", ("hr_var_bpm",), "num", optional=True),
        Col("ctdivol_mgy", ("ctdivol",), "num", optional=True),
        Col("openrem_events", ("No. events", "events", "n_events"), "int"),
        Col("openrem_dlp_total", ("openrem_dlp_total_mgycm", "DLP total (mGy.cm)",
                                  "dlp_total_mgycm", "dlp_total",
                                  "total_dlp_mgycm"), "num"),
        # OpenREM's event of our scan (the CTA acquisition), when shown
        Col("openrem_event_ctdivol", ("event_ctdivol_mgy",), "num", optional=True),
        Col("openrem_event_dlp", ("event_dlp_mgycm",), "num", optional=True),
        Col("calcium_score", ("calcium", "agatston"), "num", optional=True),
    ],
    "exams": [  # the exam view, read with sqlite3
        Col("accession_number", (), "text", key=True),
        Col("study_date", (), "text"),
        Col("model", (), "text"),
        Col("scan_type", (), "text"),
        Col("hr_avg"), Col("hr_min"), Col("hr_max"), Col("hr_var"),
        Col("ctdivol_mgy"), Col("calcium_score"),
        Col("series_count", (), "int"),
        Col("weekday", (), "weekday"),
    ],
    "series": [  # the series table, read with sqlite3
        Col("series_uid", (), "text", key=True),
        Col("accession_number", (), "text"),
        Col("scan_type", (), "text"),
        Col("instances", (), "int"),
    ],
    "counts": [
        Col("exams", (), "int"), Col("series", (), "int"),
        Col("instances", (), "int"),
    ],
}
# Histogram: bin_to of the bin [55, 60) is 59, the last whole bpm in it, as
# its label "55-59" (True), or 60, its upper edge (False).
BIN_TO_LAST_BPM = True
# Verdict words, after lower case, a trailing "(...)" qualifier dropped
# ("compliant (calcium unknown)") and blanks and dashes made "_".
VERDICTS = {
    "compliant": ("compliant", "ok", "yes", "match", "pass", "true"),
    "non_compliant": ("non_compliant", "noncompliant", "mismatch", "no",
                      "fail", "false", "deviation"),
    "unknown": ("unknown", "", "n/a", "na", "not_assessed", "unassessable",
                "undetermined", "no_rule", "no_heart_rate", "no_hr",
                "no_scan_type"),
}


def layout(kind, opts):
    if kind == "summary":
        return [GROUP_COLS[b] for b in opts.by] + LAYOUTS["summary"]
    return LAYOUTS[kind]


def parse_command_options(kind, argv):
    p = argparse.ArgumentParser(prog="gen_year.py " + kind, add_help=False)
    p.add_argument("--from", dest="date_from")
    p.add_argument("--to", dest="date_to")
    p.add_argument("--scanner")
    p.add_argument("--scan-type")
    p.add_argument("--by", default="scanner,scan_type")
    p.add_argument("--bin", type=int, default=5)
    p.add_argument("--format")
    p.add_argument("-o")
    p.add_argument("--digits", type=int, default=1)
    p.add_argument("file", nargs="?")
    o = p.parse_args(argv)
    o.by = [b.strip() for b in o.by.split(",") if b.strip()]
    for b in o.by:
        if b not in GROUP_COLS:
            p.error("--by: unknown key '%s'" % b)
    return o


def selected(truth, o):
    out = []
    for e in truth["exams"]:
        if o.date_from and e["study_date"] < o.date_from:
            continue
        if o.date_to and e["study_date"] > o.date_to:
            continue
        if o.scanner and e["scanner"] != o.scanner:
            continue
        if o.scan_type and e["scan_type"] != o.scan_type:
            continue
        out.append(e)
    return out


def mean(v):
    v = [x for x in v if x is not None]
    return float(sum(v)) / len(v) if v else None


def median(v):
    """The middle value, or the mean of the two middle values."""
    v = [x for x in v if x is not None]
    return float(statistics.median(v)) if v else None


def group_key(e, by):
    m = {"scanner": e["scanner"], "scan_type": e["scan_type"],
         "month": e["study_date"][:7], "year": int(e["study_date"][:4])}
    return tuple(m[b] for b in by)


def expect_rows(kind, truth, o, root):
    """Expected rows (dicts by canonical column name) and, per row, whether
    hraudit may leave it out."""
    ex = selected(truth, o)
    rows = []
    if kind == "summary":
        groups = {}
        for e in ex:
            groups.setdefault(group_key(e, o.by), []).append(e)
        for k in sorted(groups):
            g = groups[k]
            r = dict(zip(o.by, k))
            r.update(exams=len(g),
                     exams_with_hr=sum(e["hr_avg"] is not None for e in g),
                     mean_hr=mean(e["hr_avg"] for e in g),
                     median_hr=median(e["hr_avg"] for e in g),
                     mean_hrv=mean(e["hr_var"] for e in g),
                     median_ctdivol=median(e["ctdivol"] for e in g))
            rows.append((r, False))
    elif kind == "weekday":
        pairs = sorted(set((e["scan_type"], e["scanner"]) for e in ex))
        for st, sc in pairs:
            for wd in range(7):
                g = [e for e in ex if e["scan_type"] == st and
                     e["scanner"] == sc and e["weekday"] == wd]
                rows.append((dict(scan_type=st, scanner=sc,
                                  weekday=WEEKDAYS[wd], count=len(g),
                                  mean_hr=mean(e["hr_avg"] for e in g)), False))
    elif kind == "histogram":
        bins = {}
        for e in ex:
            if e["hr_avg"] is None:
                continue
            lo = int(math.floor(e["hr_avg"] / o.bin)) * o.bin
            bins[(e["scanner"], lo)] = bins.get((e["scanner"], lo), 0) + 1
        # A row of the exams without heart rate (empty bin) may be there.
        for sc in sorted(set(e["scanner"] for e in ex if e["hr_avg"] is None)):
            rows.append((dict(scanner=sc, bin_from=None, bin_to=None,
                              count=sum(e["hr_avg"] is None and e["scanner"] == sc
                                        for e in ex)), True))
        for (sc, lo), n in sorted(bins.items()):
            rows.append((dict(scanner=sc, bin_from=lo,
                              bin_to=lo + o.bin - 1 if BIN_TO_LAST_BPM
                              else lo + o.bin, count=n), False))
    elif kind == "compliance":
        for sc in sorted(set(e["scanner"] for e in ex)):
            g = [e for e in ex if e["scanner"] == sc]
            v = [verdict(e) for e in g]
            ok, bad = v.count("compliant"), v.count("non_compliant")
            rows.append((dict(scanner=sc, exams=len(g), assessed=ok + bad,
                              compliant=ok, non_compliant=bad,
                              unknown=v.count("unknown"),
                              partial=sum(judge(e)[1] for e in g),
                              compliance_percent=100.0 * ok / (ok + bad)
                              if ok + bad else None), False))
    elif kind == "compliance-exams":
        for e in sorted(ex, key=lambda e: (e["study_date"], e["accession"])):
            want = judge(e)[0]
            rows.append((dict(accession_number=e["accession"],
                              study_date=e["study_date"], scanner=e["scanner"],
                              scan_type=e["scan_type"],
                              expected_scan_type="|".join(want) if want else None,
                              verdict=verdict(e)), False))
    elif kind == "merge":
        openrem = read_openrem(o.file or os.path.join(root, "openrem.csv"))
        ours = set()
        for e in sorted(truth["exams"], key=lambda e: e["accession"]):
            ours.add(e["accession"])
            rem = openrem.get(e["accession"])
            rows.append((dict(accession_number=e["accession"],
                              study_date=e["study_date"], scanner=e["scanner"],
                              scan_type=e["scan_type"], hr_avg=e["hr_avg"],
                              hr_var=e["hr_var"], ctdivol_mgy=e["ctdivol"],
                              openrem_events=rem[0] if rem else None,
                              openrem_dlp_total=rem[1] if rem else None,
                              openrem_event_ctdivol=e["ctdivol"] if rem else None,
                              openrem_event_dlp=(e["openrem"] or {}).get("cta_dlp")
                              if rem else None,
                              calcium_score=e["calcium"]),
                         rem is None))   # ours only: a left join keeps it
        for acc in sorted(set(openrem) - ours):   # OpenREM only
            rows.append((dict(accession_number=acc,
                              openrem_events=openrem[acc][0],
                              openrem_dlp_total=openrem[acc][1]), True))
    elif kind == "exams":
        for e in ex:
            rows.append((dict(accession_number=e["accession"],
                              study_date=e["study_date"], model=e["scanner"],
                              scan_type=e["scan_type"], hr_avg=e["hr_avg"],
                              hr_min=e["hr_min"], hr_max=e["hr_max"],
                              hr_var=e["hr_var"], ctdivol_mgy=e["ctdivol"],
                              calcium_score=e["calcium"],
                              series_count=e["series_count"],
                              weekday=WEEKDAYS[e["weekday"]]), False))
    elif kind == "series":
        for e in ex:
            for s in e["series"]:
                rows.append((dict(series_uid=s["uid"],
                                  accession_number=e["accession"],
                                  scan_type=e["scan_type"],
                                  instances=s["instances"]), False))
    elif kind == "counts":
        rows.append((dict(exams=len(ex),
                          series=sum(e["series_count"] for e in ex),
                          instances=sum(s["instances"] for e in ex
                                        for s in e["series"])), False))
    else:
        raise SystemExit("gen_year.py: unknown KIND '%s'" % kind)
    return rows


def fmt(v, digits):
    if v is None:
        return ""
    if isinstance(v, float):
        return "%.*f" % (digits, v)
    return str(v)


def load_truth(root):
    with open(os.path.join(root, "truth.json")) as f:
        return json.load(f)


def cmd_expect(root, kind, argv):
    o = parse_command_options(kind, argv)
    cols = layout(kind, o)
    rows = expect_rows(kind, load_truth(root), o, root)
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow([c.name for c in cols])
    for r, _ in rows:
        w.writerow([fmt(r.get(c.name), o.digits) for c in cols])
    return 0

# ---- comparison -------------------------------------------------------------------------


def norm_name(s):
    return "".join(ch for ch in s.lower() if ch.isalnum())


def norm_value(kind, v):
    """Canonical form of a value (None for empty); raises ValueError."""
    if v is None:
        return None
    if not isinstance(v, str):
        return v
    v = v.strip()
    if v in ("", "NULL", "null", "None") and kind != "verdict":
        return None
    if kind == "codes":
        v = v.strip()
    if kind == "num":
        return float(v)
    if kind == "int":
        f = float(v)
        if f != int(f):
            raise ValueError(v)
        return int(f)
    if kind == "weekday":
        low = v.lower()
        for i, name in enumerate(WEEKDAYS):
            if low in (name.lower(), name[:3].lower()):
                return i
        n = int(float(v))            # 0 = Sunday (exam view), 7 = Sunday (ISO)
        if not 0 <= n <= 7:
            raise ValueError(v)
        return n % 7
    if kind == "month":
        digits = v.replace("-", "").replace("/", "")
        if len(v) >= 6 and "-" in v:
            y, m = v.split("-")[:2]
            return "%04d-%02d" % (int(y), int(m))
        if len(digits) == 6:
            return "%s-%s" % (digits[:4], digits[4:])
        raise ValueError(v)
    if kind == "verdict":
        low = re.sub(r"\s*\(.*\)\s*$", "", v).lower()
        low = re.sub(r"[\s-]+", "_", low)
        for canon, names in VERDICTS.items():
            if low in names:
                return canon
        return v
    if kind == "codes":                # a set of scan types: "a|b", "a, b"
        return tuple(sorted(set(c for c in re.split(r"[|,; ]+", v) if c)))
    return v


def show(v):
    if v is None:
        return "(empty)"
    if isinstance(v, tuple):
        return "|".join(v)
    if isinstance(v, float):
        return "%g" % v
    return str(v)


def same(kind, want, got):
    if want is None or got is None:
        return want is None and got is None
    if kind == "num":
        return abs(want - got) <= TOLERANCE + 1e-9
    return want == got


def split_tables(text):
    """CSV text -> list of (header, rows); blank lines separate tables."""
    tables, block = [], []
    for line in text.splitlines() + [""]:
        if line.strip():
            block.append(line)
        elif block:
            rows = list(csv.reader(io.StringIO("\n".join(block))))
            tables.append((rows[0], rows[1:]))
            block = []
    return tables


def match_columns(cols, header):
    """{canonical name: index in header}, and the required names missing."""
    idx = {norm_name(h): i for i, h in enumerate(header)}
    found, missing = {}, []
    for c in cols:
        for a in c.aliases:
            if norm_name(a) in idx:
                found[c.name] = idx[norm_name(a)]
                break
        else:
            if not c.optional:
                missing.append(c.name)
    return found, missing


def compare_table(kind, cols, expected, header, got_rows, label):
    problems = []
    found, missing = match_columns(cols, header)
    if missing:
        return ["%s: no column %s in hraudit's header [%s] (adapt LAYOUTS in "
                "gen_year.py if it was renamed)" % (
                    label, ", ".join(missing), ",".join(header))]
    keys = [c for c in cols if c.key]
    values = [c for c in cols if not c.key and c.name in found]
    count_col = next((c for c in cols if c.name in ("count", "exams")
                      and not c.key), None)

    def key_of(r, getter):
        return tuple(norm_value(c.kind, getter(r, c)) for c in keys)

    got = {}
    for n, r in enumerate(got_rows, 2):
        if len(r) != len(header):
            problems.append("%s: line %d has %d fields, the header %d" % (
                label, n, len(r), len(header)))
            continue
        try:
            k = key_of(r, lambda r, c: r[found[c.name]])
        except ValueError as ex:
            problems.append("%s: line %d: bad key value %s" % (label, n, ex))
            continue
        if k in got:
            problems.append("%s: two rows for (%s)" % (
                label, ", ".join(map(show, k))))
        got[k] = r
    for want, optional in expected:
        k = key_of(want, lambda r, c: r.get(c.name))
        name = "(%s)" % ", ".join(map(show, k)) if k else "row"
        r = got.pop(k, None)
        if r is None:
            if not optional:
                problems.append("%s: no row %s" % (label, name))
            continue
        for c in values:
            w = norm_value(c.kind, want.get(c.name))
            try:
                g = norm_value(c.kind, r[found[c.name]])
                ok = same(c.kind, w, g)
            except ValueError:
                g, ok = "'%s'" % r[found[c.name]], False
            if not ok:
                problems.append("%s %s: %s is %s, should be %s" % (
                    label, name, header[found[c.name]], show(g), show(w)))
    for k, r in got.items():
        # A row with a zero count may be printed or not (empty bins, ...).
        if count_col is not None and count_col.name in found:
            try:
                if norm_value("int", r[found[count_col.name]]) == 0:
                    continue
            except ValueError:
                pass
        problems.append("%s: unexpected row (%s): %s" % (
            label, ", ".join(map(show, k)), ",".join(r)))
    return problems


def cmd_check(root, kind, got_path, argv):
    o = parse_command_options(kind, argv)
    truth = load_truth(root)
    with open(got_path, newline="") as f:
        text = f.read()
    tables = split_tables(text)
    label = kind
    if not tables:
        print("%s: empty output" % label)
        return 1
    # compliance prints verdicts per exam, rates per scanner, or both (as
    # tables separated by a blank line): compare whichever is there.
    kinds = ["compliance", "compliance-exams"] if kind == "compliance" else [kind]
    problems, compared = [], 0
    for header, rows in tables:
        for k in kinds:
            cols = layout(k, o)
            if len(kinds) > 1 and match_columns(cols, header)[1]:
                continue
            problems += compare_table(k, cols, expect_rows(k, truth, o, root),
                                      header, rows, k)
            compared += 1
            break
    if not compared:           # say which columns the first layout lacks
        header, rows = tables[0]
        problems += compare_table(kinds[0], layout(kinds[0], o),
                                  expect_rows(kinds[0], truth, o, root),
                                  header, rows, label)
    for p in problems[:12]:
        print(p)
    if len(problems) > 12:
        print("... and %d more differences" % (len(problems) - 12))
    return 1 if problems else 0

# ---- main ----------------------------------------------------------------------------------


def main(argv):
    if len(argv) >= 3 and argv[0] == "--expect":
        return cmd_expect(argv[1], argv[2], argv[3:])
    if len(argv) == 3 and argv[0] == "--expand":
        return cmd_expand(argv[1], argv[2])
    if len(argv) >= 4 and argv[0] == "--check":
        return cmd_check(argv[1], argv[2], argv[3], argv[4:])
    p = argparse.ArgumentParser(
        description="A fictional year of cardiac CT exams for hraudit's tests "
                    "(see the module comment for --expect and --check).")
    p.add_argument("--out", required=True, help="directory to write")
    p.add_argument("--seed", type=int, default=2025)
    p.add_argument("--year", type=int, default=2025)
    p.add_argument("--exams", type=int, default=150)
    return cmd_out(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
