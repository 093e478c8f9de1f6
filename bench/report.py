#!/usr/bin/env python3
"""report.py - the `make bench` table, its CSV and the PASS/FAIL lines.

usage: report.py RUNS_CSV RESULTS_DIR STAMP MACHINE_FILE FIRST_CHECK SECONDS

RUNS_CSV holds one line per run of bench/run.sh.  For each receiver and
workload the run with the median time is kept (the lower median for an even
number of runs; runs with an error are left out unless there are only such),
the peak RSS is the largest of all its runs.  The ratio is images/s over that
of the floor of the same workload: `storescp --ignore`, or `storescp --fork
--ignore` for the four concurrent associations.  Prints the table and the
targets, and writes them to RESULTS_DIR/bench-STAMP.csv (copied to
latest.csv) and bench-STAMP.txt.
"""

import csv
import os
import shutil
import sys

WORKLOADS = [
    ("w1-nodelay", "1 x 500 CT, sender TCP_NODELAY=1", "storescp --ignore"),
    ("w1-nagle", "1 x 500 CT, sender Nagle on", "storescp --ignore"),
    ("w2", "4 x 250 CT at once", "storescp --fork --ignore"),
    ("w3", "1 x 1 GiB Enhanced CT", "storescp --ignore"),
]
RECEIVERS = {
    "w2": ["storescp --fork --ignore", "storescp --fork -od", "hrauditd", "orthanc"],
    None: ["storescp --ignore", "storescp -od", "hrauditd", "orthanc"],
}
FLOOR_RATIO = 0.9      # hrauditd images/s over the floor's
FAIR_RATIO = 1.5       # last association to finish over the first
ORTHANC_RATIO = 4.0    # hrauditd images/s over Orthanc's
RSS_LIMIT_MIB = 64     # while the 1 GiB object arrives


def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def summarise(runs):
    """(receiver, workload) -> the kept run, with its derived figures."""
    groups = {}
    for r in runs:
        groups.setdefault((r["receiver"], r["workload"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        good = [r for r in rs if not r["error"] and num(r["seconds"])]
        pool = good or [r for r in rs if num(r["seconds"])]
        if not pool:
            out[key] = {"error": rs[0]["error"] or "no measurement", "runs": len(rs)}
            continue
        pool.sort(key=lambda r: num(r["seconds"]))
        m = dict(pool[(len(pool) - 1) // 2])
        secs = num(m["seconds"])
        m["runs"] = len(rs)
        m["ips"] = int(m["images"]) / secs
        m["mbps"] = int(m["bytes"]) / secs / 1e6
        m["rss_mib"] = max(num(r["peak_rss_kib"]) or 0 for r in rs) / 1024
        arrived = [r["arrived"] for r in rs]
        m["arrived_min"] = min((int(a) for a in arrived if a.isdigit()), default=None)
        m["errors"] = "; ".join(sorted({r["error"] for r in rs if r["error"]}))
        finish = [num(f) for f in m["finish_s"].split()] if m["finish_s"] else []
        m["finish"] = finish
        m["fair"] = max(finish) / min(finish) if finish and min(finish) > 0 else None
        out[key] = m
    return out


def main():
    if len(sys.argv) != 7:
        sys.stderr.write(__doc__)
        return 2
    runs_csv, results, stamp, machine_file, first, total_s = sys.argv[1:]
    with open(runs_csv, newline="") as f:
        runs = list(csv.DictReader(f))
    with open(machine_file) as f:
        machine = f.read().strip()
    res = summarise(runs)

    lines = []
    rows = []
    head = "%-26s %-34s %9s %8s %8s %9s %10s  %s" % (
        "receiver", "workload", "images/s", "MB/s", "x floor", "peak RSS", "arrived",
        "note")
    lines += [head, "-" * len(head)]
    for wl, label, floor in WORKLOADS:
        fl = res.get((floor, wl), {})
        for rcv in RECEIVERS.get(wl, RECEIVERS[None]):
            m = res.get((rcv, wl))
            if m is None:
                continue
            if "ips" not in m:
                lines.append("%-26s %-34s %s" % (rcv, label, m["error"]))
                rows.append({"receiver": rcv, "workload": wl, "error": m["error"]})
                continue
            ratio = m["ips"] / fl["ips"] if fl.get("ips") else None
            note = []
            if m["finish"]:
                note.append("finish " + "/".join("%.2f" % x for x in m["finish"])
                            + " s, last/first %.2f" % m["fair"])
            if m["errors"]:
                note.append(m["errors"])
            arrived = "%s/%s" % (m["arrived_min"] if m["arrived_min"] is not None else "?",
                                 m["images"])
            if rcv.startswith("storescp") and "--ignore" in rcv:
                arrived += "*"
            lines.append("%-26s %-34s %9.1f %8.1f %8s %5.0f MiB %10s  %s" % (
                rcv, label, m["ips"], m["mbps"],
                "%.2f" % ratio if ratio is not None else "-", m["rss_mib"], arrived,
                "; ".join(note)))
            rows.append({
                "receiver": rcv, "workload": wl, "runs": m["runs"],
                "images": m["images"], "bytes": m["bytes"], "seconds": m["seconds"],
                "images_per_s": "%.1f" % m["ips"], "mb_per_s": "%.1f" % m["mbps"],
                "ratio_to_floor": "%.3f" % ratio if ratio is not None else "",
                "peak_rss_mib": "%.1f" % m["rss_mib"],
                "arrived": m["arrived_min"] if m["arrived_min"] is not None else "",
                "series": m["series"], "finish_s": m["finish_s"],
                "finish_last_over_first": "%.3f" % m["fair"] if m["fair"] else "",
                "error": m["errors"]})
        lines.append("")
    lines.append("x floor: images/s over storescp --ignore (--fork --ignore for 4 x 250) "
                 "in this run; MB/s = 10^6 bytes/s of the files sent;")
    lines.append("peak RSS: VmHWM (largest child for --fork); arrived: instances the "
                 "receiver holds (* = stores acknowledged to storescu).")
    lines.append("")

    # ---- targets -------------------------------------------------------------
    def get(rcv, wl):
        return res.get((rcv, wl), {})

    targets = []

    def target(ok, text):
        targets.append(("PASS" if ok else "FAIL") + "  " + text)

    def complete(m):
        return m.get("arrived_min") is not None and m["arrived_min"] == int(m["images"]) \
            and not m.get("errors")

    for wl, label, floor in WORKLOADS[:2]:
        h, f = get("hrauditd", wl), get(floor, wl)
        if "ips" in h and "ips" in f:
            r = h["ips"] / f["ips"]
            target(r >= FLOOR_RATIO and complete(h),
                   "one association (%s): hrauditd %.0f images/s = %.2f x %s %.0f (>= %.2f)%s"
                   % (label, h["ips"], r, floor, f["ips"], FLOOR_RATIO,
                      "" if complete(h) else ", but not every image recorded"))
        else:
            target(False, "one association (%s): not measured" % label)

    h, f = get("hrauditd", "w2"), get("storescp --fork --ignore", "w2")
    if "ips" in h and "ips" in f and h["fair"]:
        r = h["ips"] / f["ips"]
        target(r >= FLOOR_RATIO and h["fair"] <= FAIR_RATIO and complete(h),
               "four associations: hrauditd %.0f images/s = %.2f x storescp --fork --ignore "
               "%.0f (>= %.2f), last/first finish %.2f (<= %.1f)%s"
               % (h["ips"], r, f["ips"], FLOOR_RATIO, h["fair"], FAIR_RATIO,
                  "" if complete(h) else ", but not every image recorded"))
    else:
        target(False, "four associations: not measured")

    for wl, label, _ in (WORKLOADS[0], WORKLOADS[2]):
        h, o = get("hrauditd", wl), get("orthanc", wl)
        if "ips" in h and "ips" in o:
            r = h["ips"] / o["ips"]
            target(r >= ORTHANC_RATIO,
                   "hrauditd over Orthanc (%s): %.0f / %.0f images/s = %.1f x (>= %.0f)"
                   % (label, h["ips"], o["ips"], r, ORTHANC_RATIO))
        else:
            target(False, "hrauditd over Orthanc (%s): not measured" % label)

    h = get("hrauditd", "w3")
    if "ips" in h:
        recorded = h["series"] == "1" and complete(h)
        target(h["rss_mib"] <= RSS_LIMIT_MIB and recorded,
               "1 GiB Enhanced CT: hrauditd peak RSS %.1f MiB (<= %d), series %s"
               % (h["rss_mib"], RSS_LIMIT_MIB,
                  "recorded" if recorded else "NOT recorded (series rows %s, instances %s)"
                  % (h["series"], h["arrived"])))
    else:
        target(False, "1 GiB Enhanced CT: not measured (%s)" % h.get("error", "?"))

    target(first.startswith("OK"), "series row visible to sqlite3 before the C-STORE "
           "response to its first instance: " + first)

    lines += targets
    lines.append("")
    lines.append("make bench measurements took %s s; results in %s/bench-%s.csv (latest.csv)"
                 % (total_s, results, stamp))

    text = machine + "\n\n" + "\n".join(lines) + "\n"
    sys.stdout.write("\n".join(lines) + "\n")
    os.makedirs(results, exist_ok=True)
    with open(os.path.join(results, "bench-%s.txt" % stamp), "w") as f:
        f.write(text)
    fields = ["receiver", "workload", "runs", "images", "bytes", "seconds", "images_per_s",
              "mb_per_s", "ratio_to_floor", "peak_rss_mib", "arrived", "series",
              "finish_s", "finish_last_over_first", "error"]
    path = os.path.join(results, "bench-%s.csv" % stamp)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow(r)
    shutil.copyfile(path, os.path.join(results, "latest.csv"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
