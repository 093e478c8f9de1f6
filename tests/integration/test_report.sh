# test_report.sh - `hraudit report --html`: the audit page, checked as a file
# and in a real browser (sourced by run.sh; bash only).
#
# Defines test_report() in run.sh's style: it uses run.sh's harness (err,
# TEST_DIR, T with the built study, HRAUDIT, HRAUDITD, sql, start,
# storescu_send) and needs python3, sqlite3 and Debian's chromium
# (/usr/bin/chromium, or CHROMIUM=PATH).  Sourcing this file has no side
# effects.
# shellcheck shell=bash

REPORT_CHART_IDS=(hr-histogram scan-type-mix weekday-hr dose compliance)
# A scanner name that must come out as text, never as markup.
REPORT_HOSTILE='<script>alert(1)</script> & "Evil" <b>CT</b>'
REPORT_HOSTILE_ESCAPED='&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Evil&quot; &lt;b&gt;CT&lt;/b&gt;'

# report_chromium OUT ERR URL ARGS...: one headless run, as on this
# machine kind (a fresh profile; no background networking: the network is
# closed).  OUT and ERR receive stdout and stderr.
report_chromium() {
	local out=$1 errf=$2 url=$3 profile rc
	shift 3
	profile=$(mktemp -d "$TEST_DIR/chromium-profile.XXXXXX") || return 1
	timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic \
		--no-first-run --disable-background-networking --disable-component-update \
		--disable-sync --user-data-dir="$profile" "$@" "$url" >"$out" 2>"$errf"
	rc=$?
	rm -rf "$profile"
	return $rc
}

# report_console_errors LOG: the page's console messages and uncaught
# exceptions in a --enable-logging=stderr log.  Chromium logs every console
# message as "...:CONSOLE:N] "text", source: URL (N)" (older versions:
# "CONSOLE(N)"), whatever its level; an exception as "Uncaught ...".
report_console_errors() {
	grep -E 'CONSOLE[:(]|Uncaught' "$1"
}

# report_file_uri PATH: file:///... with the path percent-encoded.
report_file_uri() {
	python3 -c 'import pathlib, sys; print(pathlib.Path(sys.argv[1]).resolve().as_uri())' "$1"
}

# report_self_contained FILE: nothing the page would fetch.  The SVG
# namespace is a name, not a fetch: the one URL allowed.
report_self_contained() {
	local f=$1 hits
	hits=$(sed 's|xmlns="http://www.w3.org/2000/svg"||g' "$f" |
		grep -oiE 'https?://[^"'"'"' <>)]*' | sort -u | head -n 3 | tr '\n' ' ')
	[ -z "$hits" ] || err "report: the page refers to $hits"
	grep -qi '<script' "$f" && err "report: the page has a <script> element"
	hits=$(grep -oiE '(src|href|srcset|poster|data)="[^#"][^"]*"|url\([^#)][^)]*\)|@import' "$f" |
		sort -u | head -n 3 | tr '\n' ' ')
	[ -z "$hits" ] || err "report: the page loads something: $hits"
}

# report_check_dom DOM EXAMS: the chart <svg>s (class chart, a <title>,
# inside a <figure> with a <figcaption>), no <script>, the hostile scanner
# name as text, and EXAMS in the summary's "All scanners" row.
report_check_dom() {
	python3 - "$1" "$2" "$REPORT_HOSTILE" "${REPORT_CHART_IDS[@]}" <<'EOF'
import sys
from html.parser import HTMLParser

path, exams, hostile, ids = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
        "meta", "source", "track", "wbr"}

class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children, self.text = [], []

    def all_text(self):
        return "".join(self.text) + "".join(c.all_text() for c in self.children)

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()

class Tree(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Node("#root", [], None)

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.text.append(data)

t = Tree()
t.feed(open(path, encoding="utf-8").read())
nodes = list(t.root.walk())
problems = []
if not any(n.tag == "html" for n in nodes):
    problems.append("the dumped DOM has no <html> element")
for i in ids:
    svgs = [n for n in nodes if n.attrs.get("id") == i]
    if len(svgs) != 1 or svgs[0].tag != "svg":
        problems.append("no single <svg id=%r> (found %s)" % (i, [n.tag for n in svgs]))
        continue
    svg = svgs[0]
    if "chart" not in svg.attrs.get("class", "").split():
        problems.append("<svg id=%r> lacks class chart" % i)
    if not any(c.tag == "title" and c.all_text().strip() for c in svg.children):
        problems.append("<svg id=%r> has no <title>" % i)
    if not any(n.tag == "rect" for n in svg.walk()):
        problems.append("<svg id=%r> draws no bar" % i)
    fig = svg.parent
    while fig and fig.tag != "figure":
        fig = fig.parent
    if not fig or not any(n.tag == "figcaption" and n.all_text().strip()
                          for n in fig.children):
        problems.append("<svg id=%r> is not in a <figure> with a <figcaption>" % i)
if any(n.tag == "script" for n in nodes):
    problems.append("the DOM has a <script> element (injected?)")
if any(n.tag == "b" for n in nodes):
    problems.append("the DOM has a <b> element: a database string became markup")
if not any(hostile in n.all_text() for n in nodes if n.tag in ("th", "td")):
    problems.append("the hostile scanner name is not shown as text in a table")
total = [n for n in nodes if n.tag == "tr" and n.children and
         n.children[0].all_text().strip() == "All scanners"]
if not total:
    problems.append("no 'All scanners' row in the summary")
else:
    cells = [c.all_text().strip() for c in total[0].children if c.tag == "td"]
    if not cells or cells[0] != exams:
        problems.append("'All scanners' counts %s exams, the exam view %s"
                        % (cells[:1], exams))
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
EOF
}

# report_check_png FILE W H: a PNG of W x H pixels, and not a blank page.
report_check_png() {
	python3 - "$@" <<'EOF'
import struct, sys
path, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = open(path, "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
    print("not a PNG"); sys.exit(1)
pw, ph = struct.unpack(">II", data[16:24])
if (pw, ph) != (w, h):
    print("%dx%d pixels, expected %dx%d" % (pw, ph, w, h)); sys.exit(1)
# a blank 1280x2000 page compresses to a few kB; charts and text do not
if len(data) < 30000:
    print("only %d bytes: a blank page?" % len(data)); sys.exit(1)
EOF
}

# report_fill DB: more exams beside the test study's, copied from series A
# with other dates, heart rates, scanners and scan types (schema-agnostic:
# a copy of the row with some columns changed), one of them on a scanner
# whose name is markup.
report_fill() {
	local db=$1 i=0 row date hr model type q=""
	for row in "2024-01-15|58|SOMATOM Force|seq_diastolic" \
		"2024-02-06|66|SOMATOM Force|seq_systolic" \
		"2024-02-09|73|NAEOTOM Alpha|uhr_spiral_retro" \
		"2024-03-20|55|NAEOTOM Alpha|flash" \
		"2024-04-02|81|SOMATOM Force|seq_systolic" \
		"2024-04-03|62|HOSTILE|seq_diastolic" \
		"2024-05-11|NULL|SOMATOM Force|flash"; do
		IFS='|' read -r date hr model type <<<"$row"
		i=$((i + 1))
		[ "$model" = HOSTILE ] && model=$REPORT_HOSTILE
		model=${model//"'"/"''"}
		q+="DELETE FROM t; INSERT INTO t SELECT * FROM series WHERE series_uid = '$SERIES_A';
UPDATE t SET series_uid = '$UID_ROOT.8.$i', study_uid = '$UID_ROOT.7.$i',
	accession_number = 'R$i', study_date = '$date', hr_avg = $hr,
	model = '$model', scan_type = '$type';
INSERT INTO series SELECT * FROM t;
"
	done
	sqlite3 -cmd '.timeout 5000' "$db" "CREATE TEMP TABLE t AS SELECT * FROM series WHERE 0;
$q" 2>&1
}

test_report() {
	local dir=$TEST_DIR db out=$TEST_DIR/out.html rc exams line ino
	CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
	[ -x "$CHROMIUM" ] || err "chromium not installed ($CHROMIUM; Debian package chromium)"
	if [ ! -x "$HRAUDIT" ]; then
		err "no executable '$HRAUDIT' (build it, or set HRAUDIT)"
		return
	fi

	# The test study, by `hraudit import` when there is one, else sent to
	# the daemon; then more exams beside it.
	db=$dir/report.db
	if "$HRAUDIT" --help 2>/dev/null | grep -q '^  import '; then
		"$HRAUDIT" --db "$db" import "$T/study" >"$dir/import.out" 2>&1 ||
			{ err "hraudit import failed: $(head -c 300 "$dir/import.out")"; return; }
	else
		start report || return
		db=$DAEMON_DB
		storescu_send TESTSCU "$dir/storescu.out" "$T"/study/series-*/*.dcm
		daemon_stop
	fi
	line=$(report_fill "$db") || { err "cannot add exams: $line"; return; }
	exams=$(sql "$db" "SELECT count(*) FROM exam")
	[ "${exams:-0}" -ge 8 ] || err "the exam view has ${exams:-no} exams, expected 8 or more"

	"$HRAUDIT" --db "$db" report --html "$out" >"$dir/report.out" 2>&1
	rc=$?
	if [ $rc -ne 0 ] || [ ! -s "$out" ]; then
		err "hraudit report exited $rc: $(head -c 300 "$dir/report.out")"
		return
	fi
	report_self_contained "$out"
	grep -qF -- "$REPORT_HOSTILE_ESCAPED" "$out" ||
		err "report: the scanner name '$REPORT_HOSTILE' is not escaped for HTML"
	grep -qF -- "$REPORT_HOSTILE" "$out" &&
		err "report: the scanner name '$REPORT_HOSTILE' is in the page unescaped"
	for line in "${REPORT_CHART_IDS[@]}"; do
		grep -qE "<svg class=\"chart\" id=\"$line\"" "$out" ||
			err "report: no <svg class=\"chart\" id=\"$line\"> in the file"
	done
	check_no_canaries "$out"

	# Written atomically: a new file (inode) each time, no temporary left.
	ino=$(stat -c %i "$out")
	"$HRAUDIT" --db "$db" report --html "$out" >>"$dir/report.out" 2>&1 ||
		err "second hraudit report failed"
	[ "$(stat -c %i "$out")" != "$ino" ] || err "report: $out rewritten in place, not renamed"
	for line in "$out".*; do
		[ -e "$line" ] && err "report: temporary file ${line##*/} left behind"
	done

	# An empty period: a page that says so, exit 0.
	"$HRAUDIT" --db "$db" report --html "$dir/empty.html" --from 2099-01-01 \
		>"$dir/empty.out" 2>&1 || err "report of an empty period exited $?"
	grep -q 'No exams in the period' "$dir/empty.html" 2>/dev/null ||
		err "report of an empty period does not say 'No exams in the period'"
	grep -q '<svg' "$dir/empty.html" 2>/dev/null && err "report of an empty period draws charts"
	"$HRAUDIT" --db "$db" report >/dev/null 2>&1
	rc=$?
	[ $rc -eq 2 ] || err "report without --html exited $rc, expected 2"

	[ -x "$CHROMIUM" ] || return

	# The console capture must see a page's console and exceptions, or its
	# silence about the report proves nothing.
	printf '<!DOCTYPE html><title>control</title><script>console.error("report-control");undefinedCall();</script>\n' \
		>"$dir/control.html"
	report_chromium "$dir/control.dom" "$dir/control.log" "$(report_file_uri "$dir/control.html")" \
		--enable-logging=stderr --v=0 --dump-dom
	if ! grep -q 'report-control' "$dir/control.log" || ! grep -q 'Uncaught' "$dir/control.log"; then
		err "cannot capture chromium's console (no 'report-control' and 'Uncaught' in its log)"
	fi

	# The report: its DOM as Chromium built it, and its console.
	report_chromium "$dir/out.dom" "$dir/out.log" "$(report_file_uri "$out")" \
		--enable-logging=stderr --v=0 --dump-dom
	rc=$?
	[ $rc -eq 0 ] || err "chromium --dump-dom exited $rc: $(grep -v dbus "$dir/out.log" | tail -n 2 | tr '\n' ' ')"
	line=$(report_console_errors "$dir/out.log" | head -n 3 | tr '\n' ' ')
	[ -z "$line" ] || err "report: console messages in chromium: $line"
	while IFS= read -r line; do
		err "report DOM: $line"
	done < <(report_check_dom "$dir/out.dom" "$exams" 2>&1)

	# And what it looks like.
	rm -f "$dir/out.png"
	report_chromium "$dir/shot.out" "$dir/shot.log" "$(report_file_uri "$out")" \
		--hide-scrollbars --screenshot="$dir/out.png" --window-size=1280,2000
	rc=$?
	if [ $rc -ne 0 ] || [ ! -s "$dir/out.png" ]; then
		err "chromium --screenshot exited $rc, no out.png: $(grep -v dbus "$dir/shot.log" | tail -n 2 | tr '\n' ' ')"
	else
		line=$(report_check_png "$dir/out.png" 1280 2000 2>&1) ||
			err "report screenshot: $line"
	fi
}
