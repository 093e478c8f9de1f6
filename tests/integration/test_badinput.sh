# test_badinput.sh - hrauditd meets bad input: the network catalogue and
# malformed DICOM.  Sourced by run.sh; defines functions only.
#
# The bytes come from dicom_peer.py, a raw DICOM Upper Layer client that
# sends what storescu would refuse to; the checks use run.sh's helpers
# (err, start, sql, expect_sql, storescu_send, check_study_db, check_series)
# and lib.sh's (echo_ok, daemon_alive, figure, DAEMON_*).
# shellcheck shell=bash
# shellcheck disable=SC2154 # T, TEST_DIR, HRAUDITD, ... are set by run.sh

# ms_since T0: milliseconds since T0 (date +%s%N).
ms_since() {
	echo $((($(date +%s%N) - $1) / 1000000))
}

# ---- bad-network ---------------------------------------------------------------

# The catalogue of dicom_peer.py (garbage, HTTP and TLS on the plain port,
# truncated PDUs, absurd PDU lengths and types, A-ASSOCIATE-RQs with absurd
# fields, PDVs and command sets that lie, aborts and closes in mid data set,
# half-closed connections), each case on a connection of its own and
# followed by a C-ECHO (every tenth by echoscu): the daemon answers each
# time, never spins, and then stores the study with storescu as usual.
test_bad_network() {
	local d=$TEST_DIR out t0 n served fails files=()
	t0=$(date +%s%N)
	mapfile -t files < <(study_files)
	start badnet || return
	out=$d/catalogue.out
	timeout 120 python3 "$here/dicom_peer.py" catalogue "$DAEMON_PORT" \
		--pid "$DAEMON_PID" \
		--echo "echoscu -to 2 -ta 2 -td 2 -aec HRAUDIT 127.0.0.1 $DAEMON_PORT" \
		>"$out" 2>&1
	n=$(sed -n 's/^\([0-9][0-9]*\) cases, [0-9]* served after$/\1/p' "$out")
	served=$(sed -n 's/^[0-9]* cases, \([0-9][0-9]*\) served after$/\1/p' "$out")
	if [ -z "$n" ]; then
		err "dicom_peer.py catalogue did not finish: $(tail -n 2 "$out" | tr '\n' ' ')"
		n=$(grep -c '^\(ok\|FAIL\) ' "$out")
		served=$(grep -c '^ok ' "$out")
	fi
	fails=$(grep -c '^FAIL ' "$out")
	((fails == 0)) ||
		err "$fails of $n cases failed: $(grep '^FAIL ' "$out" | head -n 3 | tr '\n' ' ')"
	daemon_alive || err "hrauditd died during the catalogue"

	storescu_send TESTSCU "$d/storescu.out" "${files[@]}"
	check_study_db "$DAEMON_DB" TESTSCU
	expect_sql "$DAEMON_DB" "PRAGMA integrity_check" ok "integrity_check"
	echo_ok "$DAEMON_PORT" || err "no C-ECHO answer at the end"
	figure bad_inputs "$n"
	figure faults_survived "$served"
	echo "# bad-network: $n cases, daemon served after $served of them," \
		"$fails failed, runtime $(ms_since "$t0") ms"
}

# ---- idle-connections ------------------------------------------------------------

# 1000 idle connections (8 of them associated, the others silent) held open
# while storescu stores the study and echoscu echoes: both are served on
# time.  The daemon starts with a soft open-file limit of 512, below what
# it needs, and must raise it (to the hard limit) to hold them.  The silent
# ones are closed after acse_timeout, the associated ones after
# dimse_timeout, each with one log line.
test_idle_connections() {
	local d=$TEST_DIR wrapper hold=$TEST_DIR/hold.out t0 t1 ms files=() i
	local n=1000 assoc=8 hard limit closed silent_lines idle_lines
	t0=$(date +%s%N)
	mapfile -t files < <(study_files)
	hard=$(ulimit -Hn)
	if [ "$hard" != unlimited ] && ((hard < 2200)); then
		err "hard open-file limit $hard is too low for this test (2200 needed)"
		return
	fi
	wrapper=$d/hrauditd-512
	printf '#!/bin/sh\nulimit -Sn 512 || exit 1\nexec "%s" "$@"\n' "$HRAUDITD" >"$wrapper"
	chmod +x "$wrapper"
	DAEMON_SERVER_INI=$'acse_timeout = 5\ndimse_timeout = 7\n' \
		HRAUDITD=$wrapper start idle || return
	limit=$(sed -n 's/^Max open files *\([0-9]*\) .*/\1/p' "/proc/$DAEMON_PID/limits")
	[ "${limit:-0}" -ge 2200 ] ||
		err "daemon's soft open-file limit is ${limit:-?}: not raised from 512"

	# The file exists before the loop below reads it: the background job's
	# redirection may not have created it yet.
	: >"$hold"
	python3 "$here/dicom_peer.py" hold "$DAEMON_PORT" "$n" --associated "$assoc" \
		--seconds 15 >"$hold" 2>&1 &
	BG_PIDS+=($!)
	for ((i = 0; i < 100; i++)); do
		grep -q '^holding\|^could' "$hold" && break
		sleep 0.1
	done
	grep -q "^holding $n connections" "$hold" ||
		{ err "cannot hold $n connections: $(head -n 1 "$hold")"; return; }

	t1=$(date +%s%N)
	storescu_send TESTSCU "$d/storescu.out" "${files[@]}"
	echo_ok "$DAEMON_PORT" || err "no C-ECHO answer while $n connections wait"
	ms=$(ms_since "$t1")
	((ms < 5000)) || err "storing the study and an echo took $ms ms with $n idle connections"
	check_study_db "$DAEMON_DB" TESTSCU

	wait "${BG_PIDS[-1]}"
	unset 'BG_PIDS[-1]'
	closed=$(sed -n 's/^closed by the daemon: \([0-9]*\) of .*/\1/p' "$hold")
	[ "$closed" = "$n" ] ||
		err "the daemon closed ${closed:-?} of $n idle connections within 15 s: $(tail -n 1 "$hold")"
	silent_lines=$(grep -c 'closed: no association request in time' "$DAEMON_LOG")
	idle_lines=$(grep -c "association from 'IDLER'.* ended: .*idle for 7 s" "$DAEMON_LOG")
	[ "$silent_lines" -eq $((n - assoc)) ] ||
		err "$silent_lines log lines for $((n - assoc)) silent connections"
	[ "$idle_lines" -eq "$assoc" ] ||
		err "$idle_lines log lines for $assoc idle associations"
	if grep -q 'accept: \|too many connections' "$DAEMON_LOG"; then
		err "out of descriptors or slots: $(grep -m 1 'accept: \|too many' "$DAEMON_LOG")"
	fi
	daemon_alive || err "hrauditd died"
	echo_ok "$DAEMON_PORT" || err "no C-ECHO answer at the end"
	figure bad_inputs "$n"
	figure faults_survived "$(daemon_alive && echo 1 || echo 0)"
	echo "# idle-connections: $n held ($assoc associated), study stored and echoed" \
		"in $ms ms meanwhile, daemon's open-file limit ${limit:-?}," \
		"${closed:-?} closed by the daemon, runtime $(ms_since "$t0") ms"
}

# ---- bad-dicom -------------------------------------------------------------------

# Malformed data sets made by dicom_peer.py from instance 1 of series A, in
# explicit VR little endian, implicit VR little endian and explicit VR big
# endian, each C-STOREd in an association of its own with a SOP instance and
# a series of its own.  Each gets a response (0x0000, the 0xC000 family or
# 0xA9xx), exactly one log line that names it (the new series, or why it was
# not understood), and the daemon goes on serving; the database holds what
# was acknowledged and passes integrity_check.
test_bad_dicom() {
	local d=$TEST_DIR out t0 root=1.2.826.0.1.3680043.10.1234.9
	local name ts inst series result served n=0 ok=0 failed=0 survived=0 lines
	local recorded=0 refused=0 base
	t0=$(date +%s%N)
	start baddicom || return
	out=$d/corpus.out
	base=$(grep -c '' "$DAEMON_LOG")
	timeout 120 python3 "$here/dicom_peer.py" corpus "$DAEMON_PORT" \
		"$T/study/series-a/0001.dcm" --uid-root "$root" >"$out" 2>"$d/corpus.err" ||
		err "dicom_peer.py corpus failed: $(tail -n 2 "$d/corpus.err" | tr '\n' ' ')"
	# One line names the instance (not understood, aborted) or its series
	# (recorded): the UID in quotes, a series UID maybe extended by the case.
	while IFS=$'\t' read -r name ts inst series result served; do
		n=$((n + 1))
		[ "$served" = served ] && survived=$((survived + 1))
		case $result in
		status=0x0000) ok=$((ok + 1)) ;;
		status=0xC[0-9A-F][0-9A-F][0-9A-F] | status=0xA9[0-9A-F][0-9A-F])
			refused=$((refused + 1)) ;;
		*)
			failed=$((failed + 1))
			err "$name ($ts): $result"
			;;
		esac
		[ "$served" = served ] || err "$name ($ts): no C-ECHO answer afterwards"
		lines=$(tail -n +"$((base + 1))" "$DAEMON_LOG" |
			grep -cF -e "'$inst'" -e "'$series")
		[ "$lines" -eq 1 ] || err "$name ($ts): $lines log lines name it, expected 1"
		if [ "$result" = status=0x0000 ]; then
			[ "$(sql "$DAEMON_DB" "SELECT count(*) FROM series WHERE series_uid LIKE '$series%'")" = 1 ] &&
				recorded=$((recorded + 1))
		else
			expect_sql "$DAEMON_DB" \
				"SELECT count(*) FROM instance WHERE sop_instance_uid = '$inst'" 0 \
				"$name ($ts) answered $result, yet recorded"
		fi
	done <"$out"
	((n > 0)) || err "no corpus case ran"
	# Nothing else in the log: one line per case, one for its association
	# (and one for each C-ECHO's, from ECHOPEER).
	lines=$(tail -n +"$((base + 1))" "$DAEMON_LOG" | grep -vc "'ECHOPEER'")
	[ "$lines" -eq $((2 * n)) ] ||
		err "$lines log lines for $n cases, expected $((2 * n)) (one per case, one per association)"
	expect_sql "$DAEMON_DB" "SELECT count(*) FROM series WHERE series_uid LIKE '$root.%'" \
		"$recorded" "rows for the cases answered Success"
	expect_sql "$DAEMON_DB" "PRAGMA integrity_check" ok "integrity_check"
	daemon_alive || err "hrauditd died during the corpus"

	storescu_send TESTSCU "$d/storescu.out" "$T"/study/series-[abc]/*.dcm
	check_series "$DAEMON_DB" "$SERIES_A" A "$EXPECT_A" TESTSCU
	check_series "$DAEMON_DB" "$SERIES_B" B "$EXPECT_B" TESTSCU
	check_series "$DAEMON_DB" "$SERIES_C" C "$EXPECT_C" TESTSCU
	echo_ok "$DAEMON_PORT" || err "no C-ECHO answer at the end"
	figure bad_inputs "$n"
	figure faults_survived "$survived"
	echo "# bad-dicom: $n cases ($((n / 3)) in 3 transfer syntaxes): $ok answered" \
		"0x0000 ($recorded recorded), $refused refused, $failed another status or none;" \
		"served after $survived; runtime $(ms_since "$t0") ms"
}
