#!/usr/bin/env bash
# soak.sh - `make soak`, part 1: 20 000 instances over 8 associations at once
# into one hrauditd, its memory sampled all along (issue 7).
#
# usage: HRAUDITD=build/hrauditd bash tests/soak/soak.sh
# environment:
#   HRAUDITD       the daemon (default build/hrauditd)
#   SOAK_CACHE     the workload, built once by bench/gen.py soak (default
#                  build/soak/workload)
#   SOAK_CHURN     short associations after the long ones (default 400)
#   SOAK_SAMPLE_S  seconds between two samples of the daemon (default 0.5)
#   FIGURES=FILE   append "soak<TAB>acknowledged<TAB>N" and "soak<TAB>lost<TAB>N"
#   KEEP=1         keep the temporary folder (its path is printed)
#
# The run, against one daemon on 127.0.0.1 with its database in a temporary
# folder:
#   1. load: 8 storescu at once, 2500 files each, every 8th file of the
#      workload (ten series of 2000, see bench/gen.py), so that all eight
#      associations add to every series row at the same time;
#   2. churn: SOAK_CHURN short associations, 8 at a time, each sending 5 of
#      the files again (already stored: the counts must not move), so that
#      what an association leaks adds up where the samples can see it;
#   3. stop with SIGTERM (exit status 0).
# A sampler reads VmRSS, Threads and the open descriptors of the daemon from
# /proc every SOAK_SAMPLE_S into rss.csv, with the phase (load or churn),
# from the start of the load to the end of the churn.
#
# Checks: every store acknowledged with Success has its SOP Instance UID in
# the instance table (lost = 0), the ten series rows with 2000 instances
# each, PRAGMA integrity_check, the thread and descriptor counts back to
# their idle values once the associations are gone, and no memory growth,
# judged twice: over the samples of the load (what an instance leaks), and
# over those of the whole run (what an association leaks).  Each time the
# samples are split by their order: the first 20 % are warm-up (SQLite's
# page cache fills, the allocator's arenas grow), the reference is the
# largest VmRSS of the next 25 % (20-45 %), and the largest VmRSS of the last
# 50 % must not exceed the reference by more than max(2 MiB, 5 % of it).
# Output: one line per check ("ok ..." or "FAIL ..."), the samples' summary,
# then "soak: passed" or "soak: failed"; exit status 1 if any check failed.

set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/lib.sh
. "$root/tests/integration/lib.sh"

HRAUDITD=${HRAUDITD:-$root/build/hrauditd}
case $HRAUDITD in /*) ;; *) HRAUDITD=$PWD/$HRAUDITD ;; esac
CACHE=${SOAK_CACHE:-$root/build/soak/workload}
case $CACHE in /*) ;; *) CACHE=$PWD/$CACHE ;; esac
CHURN=${SOAK_CHURN:-400}
SAMPLE_S=${SOAK_SAMPLE_S:-0.5}
ASSOCIATIONS=8
CHURN_FILES=5
FIGURE_TEST=soak
RSS_TOL_KIB=2048
RSS_TOL_PCT=5

FAILED=0
fail() { echo "FAIL $*"; FAILED=$((FAILED + 1)); }
ok() { echo "ok $*"; }
# expect WHAT GOT WANT
expect() {
	if [ "$2" = "$3" ]; then ok "$1: $2"; else fail "$1: $(head -c 300 <<<"$2"), expected $3"; fi
}
die() { echo "soak: $*" >&2; exit 1; }

for tool in storescu echoscu dump2dcm sqlite3 python3 timeout; do
	command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found (dcmtk, sqlite3, python3)"
done
[ -x "$HRAUDITD" ] || die "no executable '$HRAUDITD'"

t0=$SECONDS
python3 "$root/bench/gen.py" soak "$root/tests/data" "$CACHE" || die "cannot build the workload"
# shellcheck source=/dev/null
. "$CACHE/manifest.sh"

T=$(mktemp -d "${TMPDIR:-/tmp}/hraudit-soak.XXXXXX") || die "no temporary folder"
PIDS=()
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	daemon_stop
	if [ "${KEEP:-0}" = 1 ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# proc_status PID: "VmRSS_KiB threads fds" of a running process.
proc_status() {
	local k v rss=0 thr=0 fds
	while read -r k v _; do
		case $k in
		VmRSS:) rss=$v ;;
		Threads:) thr=$v ;;
		esac
	done 2>/dev/null <"/proc/$1/status"
	fds=$(find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	echo "$rss $thr $fds"
}

# sampler PID FILE: "seconds,rss_kib,threads,fds,phase" lines until PID is
# gone or the sampler is stopped; the phase is the text of $T/phase.
sampler() {
	local start=$EPOCHREALTIME s
	echo "seconds,rss_kib,threads,fds,phase" >"$2"
	while kill -0 "$1" 2>/dev/null; do
		s=$(proc_status "$1")
		awk -v a="$start" -v b="$EPOCHREALTIME" -v s="$s" -v p="$(<"$T/phase")" \
			'BEGIN { split(s, f, " "); printf "%.2f,%d,%d,%d,%s\n", b - a, f[1], f[2], f[3], p }' >>"$2"
		sleep "$SAMPLE_S"
	done
}

# rss_check WHAT [PHASE]: the growth rule above, over the samples of PHASE
# (default: all); prints the summary and "ok"/"FAIL" lines.
rss_check() {
	awk -F, -v what="$1" -v phase="${2-}" -v tol_kib="$RSS_TOL_KIB" -v tol_pct="$RSS_TOL_PCT" '
NR > 1 && (phase == "" || $5 == phase) { n++; r[n] = $2 }
END {
	if (n < 12) { printf "FAIL rss, %s: %d samples, too few to judge\n", what, n; exit }
	w = int(n * 0.20); ref_end = int(n * 0.45); last = int(n * 0.50)
	for (i = 1; i <= n; i++) {
		if (i == 1 || r[i] < min) min = r[i]
		if (r[i] > max) max = r[i]
		if (i > w && i <= ref_end && r[i] > ref) ref = r[i]
		if (i > last && r[i] > tail) tail = r[i]
	}
	tol = ref * tol_pct / 100; if (tol < tol_kib) tol = tol_kib
	printf "# rss, %s: %d samples, KiB: first %d, min %d, max %d, end %d; warm-up 1-%d, reference (max of %d-%d) %d, last half (max of %d-%d) %d, limit %d (+%d)\n",
		what, n, r[1], min, max, r[n], w, w + 1, ref_end, ref, last + 1, n, tail, ref + tol, tol
	printf "%s rss, %s: last half max %d KiB, reference %d KiB: %+d KiB (limit +%d)\n",
		tail <= ref + tol ? "ok" : "FAIL", what, tail, ref, tail - ref, tol
}' "$T/rss.csv"
}

# acked OUT...: the files whose store storescu -v saw answered with Success.
acked() {
	awk '/Sending file: / { f = $NF } /Received Store Response \(Success\)/ { print f }' "$@"
}

# ---- the daemon ----------------------------------------------------------------

DAEMON_START_TIMEOUT_S=${DAEMON_START_TIMEOUT_S:-30}
DAEMON_STOP_TIMEOUT_S=${DAEMON_STOP_TIMEOUT_S:-60}
daemon_start "$T" soak || die "$DAEMON_ERROR"
echo "soak: hrauditd pid $DAEMON_PID on 127.0.0.1:$DAEMON_PORT, database $DAEMON_DB"
sleep 1   # the C-ECHO's association thread ends
read -r _ idle_threads idle_fds <<<"$(proc_status "$DAEMON_PID")"

mapfile -t FILES < <(cut -f1 "$CACHE/uids.tsv")
total=${#FILES[@]}
[ "$total" -eq $((ASSOCIATIONS * 2500)) ] || die "$total files in $CACHE, expected $((ASSOCIATIONS * 2500))"

echo load >"$T/phase"
sampler "$DAEMON_PID" "$T/rss.csv" &
SAMPLER=$!
PIDS+=("$SAMPLER")

# ---- 1. load: 8 associations at once -----------------------------------------

load_start=$SECONDS
cd "$CACHE" || die "cannot enter $CACHE"
senders=()
for ((a = 0; a < ASSOCIATIONS; a++)); do
	list=()
	for ((i = a; i < total; i += ASSOCIATIONS)); do list+=("${FILES[i]}"); done
	TCP_NODELAY=1 timeout 900 storescu -v -to 10 -ta 10 -td 120 -aec HRAUDIT \
		-aet "SOAK$a" 127.0.0.1 "$DAEMON_PORT" "${list[@]}" >"$T/load-$a.out" 2>&1 &
	senders+=($!)
done
PIDS+=("${senders[@]}")
for ((a = 0; a < ASSOCIATIONS; a++)); do
	wait "${senders[a]}" ||
		fail "load: storescu #$a exited $?: $(grep -E '^[EF]:' "$T/load-$a.out" | head -n 2 | tr '\n' ' ')"
done
load_s=$((SECONDS - load_start))
acked "$T"/load-*.out | sort -u >"$T/acked.txt"
acknowledged=$(wc -l <"$T/acked.txt")
echo "soak: load: $acknowledged of $total stores acknowledged with Success in ${load_s}s" \
	"($(awk -v n="$acknowledged" -v s="$load_s" 'BEGIN { printf "%.0f", s ? n / s : n }')/s)"

# ---- 2. churn: short associations ---------------------------------------------

churn_start=$SECONDS
echo churn >"$T/phase"
churners=()
for ((w = 0; w < ASSOCIATIONS; w++)); do
	(
		for ((c = w; c < CHURN; c += ASSOCIATIONS)); do
			TCP_NODELAY=1 timeout 60 storescu -v -to 10 -ta 10 -td 30 -aec HRAUDIT -aet CHURN \
				127.0.0.1 "$DAEMON_PORT" "${FILES[@]:$(((c * CHURN_FILES * 37) % (total - CHURN_FILES))):CHURN_FILES}" \
				>>"$T/churn-$w.out" 2>&1 || echo "storescu exited $?" >>"$T/churn-$w.err"
		done
	) &
	churners+=($!)
done
PIDS+=("${churners[@]}")
wait "${churners[@]}"
cd "$T" || die "cannot enter $T"
churn_s=$((SECONDS - churn_start))
churn_ok=$(cat "$T"/churn-*.out | grep -c 'Received Store Response (Success)')
if cat "$T"/churn-*.err >/dev/null 2>&1; then
	fail "churn: $(cat "$T"/churn-*.err | sort | uniq -c | tr '\n' ' ')"
fi
[ "$churn_ok" -eq $((CHURN * CHURN_FILES)) ] ||
	fail "churn: $churn_ok of $((CHURN * CHURN_FILES)) stores acknowledged with Success"
echo "soak: churn: $CHURN associations, $churn_ok stores acknowledged again in ${churn_s}s"

# ---- threads and descriptors back to idle ------------------------------------

for ((i = 0; i < 100; i++)); do
	read -r _ threads fds <<<"$(proc_status "$DAEMON_PID")"
	((threads <= idle_threads && fds <= idle_fds)) && break
	sleep 0.1
done
kill "$SAMPLER" 2>/dev/null
wait "$SAMPLER" 2>/dev/null
if ((threads <= idle_threads && fds <= idle_fds)); then
	ok "threads $threads, descriptors $fds after the associations (idle: $idle_threads, $idle_fds)"
else
	fail "threads $threads, descriptors $fds 10 s after the last association (idle: $idle_threads, $idle_fds)"
	find "/proc/$DAEMON_PID/fd" -mindepth 1 -printf '#   %f -> %l\n' 2>/dev/null
fi

# ---- memory -------------------------------------------------------------------

rss=$(rss_check "load" load; rss_check "whole run")
echo "$rss"
n=$(grep -c '^FAIL' <<<"$rss")
FAILED=$((FAILED + n))

# ---- stop, then the database ---------------------------------------------------

db=$DAEMON_DB
log=$DAEMON_LOG
daemon_stop
if [ "$DAEMON_STOP_S" = timeout ]; then
	fail "hrauditd did not exit within ${DAEMON_STOP_TIMEOUT_S}s of SIGTERM"
elif [ "$DAEMON_STATUS" -ne 0 ]; then
	fail "hrauditd exited $DAEMON_STATUS after SIGTERM"
else
	ok "hrauditd exited 0 on SIGTERM in ${DAEMON_STOP_S}s"
fi

q() { sqlite3 -batch -noheader -cmd '.timeout 5000' "$@"; }
check=$(q "$db" 'PRAGMA integrity_check' 2>&1)
expect "integrity_check" "$check" ok

# The acknowledged files' UIDs; lost: those not found in the instance table
# (a file whose UID is unknown counts as lost too).
awk -F '\t' 'NR == FNR { ack[$1] = 1; next } $1 in ack { print $2 }' \
	"$T/acked.txt" "$CACHE/uids.tsv" >"$T/acked-uids.txt"
found=$(q "$T/check.db" 2>&1 <<EOF
CREATE TABLE acked (uid TEXT PRIMARY KEY);
.import $T/acked-uids.txt acked
ATTACH 'file:$db?mode=ro' AS h;
SELECT count(*) FROM acked WHERE uid IN (SELECT sop_instance_uid FROM h.instance);
EOF
)
[[ $found =~ ^[0-9]+$ ]] || { fail "cannot count the acknowledged instances: $found"; found=0; }
lost=$((acknowledged - found))
expect "acknowledged with Success" "$acknowledged" "$total"
expect "lost (acknowledged, not in the instance table)" "$lost" 0
figure acknowledged "$acknowledged"
figure lost "$lost"

instances=$(q "$db" 'SELECT count(*) FROM instance')
expect "instance rows" "$instances" "$total"
want=""
for ((k = 1; k <= 10; k++)); do
	uid=SOAK_SERIES_$k
	want+="${!uid}|$SOAK_COUNT|$SOAK_COUNT"$'\n'
done
got=$(q "$db" "SELECT s.series_uid, s.instances, (SELECT count(*) FROM instance i
	WHERE i.series_uid = s.series_uid) FROM series s ORDER BY s.series_uid")
if [ "$(sort <<<"$got")" = "$(sort <<<"${want%$'\n'}")" ]; then
	ok "series: 10 rows, $SOAK_COUNT instances each (series.instances and instance rows)"
else
	fail "series rows (uid|instances|instance rows) differ: $(diff <(sort <<<"${want%$'\n'}") \
		<(sort <<<"$got") | grep '^[<>]' | head -n 4 | tr '\n' ' ')"
fi
if grep -qE 'Sanitizer|runtime error:' "$log"; then
	fail "sanitizer report in the daemon's log"
fi
((FAILED == 0)) || log_tail "$log" 20

echo "soak: $total instances over $ASSOCIATIONS associations in ${load_s}s, $CHURN short" \
	"associations in ${churn_s}s; acknowledged $acknowledged, lost $lost; $((SECONDS - t0))s in all"
if ((FAILED == 0)); then
	echo "soak: passed"
else
	echo "soak: failed ($FAILED checks)"
	exit 1
fi
