# test_service.sh - integration tests of hrauditd as a service: systemd
# notifications, SIGHUP reload, the access list, TLS, stalled clients and the
# database's file mode.
#
# Sourced by run.sh, whose helpers (err, start, sql, expect_sql,
# storescu_send, study_files) and variables (T, TEST_DIR, HRAUDITD, here)
# these functions use, and lib.sh's daemon helpers (daemon_launch,
# daemon_start, daemon_stop, write_config, DAEMON_SERVER_INI,
# DAEMON_EXTRA_INI, DAEMON_ECHO_AET); defines functions only.
# shellcheck shell=bash
# shellcheck disable=SC2154 # T, TEST_DIR, HRAUDITD, here, ... are set by run.sh

# ---- helpers -----------------------------------------------------------------

# wait_for SECONDS COMMAND...: runs COMMAND every 0.05 s until it succeeds
# (status 0) or SECONDS have passed (status 1).
wait_for() {
	local limit=$1 t0
	shift
	t0=$(date +%s%N)
	until "$@"; do
		(($(date +%s%N) - t0 > limit * 1000000000)) && return 1
		sleep 0.05
	done
}

# count_lines FILE PATTERN: lines of FILE matching the fixed string PATTERN.
count_lines() {
	local n
	n=$(grep -cF -- "$2" "$1" 2>/dev/null) || n=0
	echo "${n:-0}"
}

# more_lines FILE PATTERN N: true when FILE has more than N such lines.
more_lines() {
	(($(count_lines "$1" "$2") > $3))
}

# echo_as OUT CALLING [CALLED [PORT]]: echoscu -d, its output in OUT; the
# status of echoscu.
echo_as() {
	timeout 20 echoscu -d -to 3 -ta 3 -td 3 -aet "$2" -aec "${3:-HRAUDIT}" \
		127.0.0.1 "${4:-$DAEMON_PORT}" >"$1" 2>&1
}

# store_to OUT PORT CALLING CALLED [STORESCU OPTIONS...] -- FILE...: storescu
# -d to 127.0.0.1:PORT, its output in OUT; the status of storescu.
store_to() {
	local out=$1 port=$2 aet=$3 aec=$4 opts=()
	shift 4
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	timeout 30 storescu -d -to 5 -ta 5 -td 10 "${opts[@]}" -aet "$aet" -aec "$aec" \
		127.0.0.1 "$port" "$@" </dev/null >"$out" 2>&1
}

# store_as OUT CALLING CALLED [OPTIONS...] -- FILE...: to the plain port.
store_as() {
	local out=$1
	shift
	store_to "$out" "$DAEMON_PORT" "$@"
}

# db_empty WHAT: the daemon's database, if it exists, holds no series and no
# instance.
db_empty() {
	[ -f "$DAEMON_DB" ] || return 0
	expect_sql "$DAEMON_DB" "SELECT count(*) FROM series" 0 "series rows after $1"
	expect_sql "$DAEMON_DB" "SELECT count(*) FROM instance" 0 "instance rows after $1"
}

# first_line FILE: the first 200 bytes of a file, on one line, for messages.
first_line() {
	head -c 200 "$1" 2>/dev/null | tr '\n' ' '
}

# errors_of FILE: DCMTK's E:/F: lines of a tool's output, on one line.
errors_of() {
	grep -E '^[EF]:' "$1" 2>/dev/null | head -n 3 | tr '\n' ' '
}

# check_log_lines: every line of every daemon log of this test is one whole
# message, "hrauditd: LEVEL: ...": no message spread over several lines.
check_log_lines() {
	local f bad
	for f in "$TEST_DIR"/*.log; do
		[ -f "$f" ] || continue
		bad=$(grep -vn '^hrauditd: ' "$f" | head -n 2 | tr '\n' ' ')
		[ -z "$bad" ] ||
			err "${f##*/} has lines that are not whole messages (a message with a newline?): $bad"
	done
}

# ---- notify ------------------------------------------------------------------

# notify_listener SOCKET OUT: an AF_UNIX datagram socket that writes every
# line of every datagram it receives to OUT, as it arrives.
notify_listener() {
	python3 - "$1" "$2" <<'EOF' &
import socket, sys

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "a", buffering=1) as f:
    while True:
        data = s.recv(65536)
        for line in data.decode("utf-8", "replace").splitlines():
            f.write(line + "\n")
            f.flush()
EOF
	BG_PIDS+=("$!")
}

# line_after FILE N TEXT: the number of the first line after line N of FILE
# that is exactly TEXT (or starts with it when TEXT ends in '*'), else nothing.
line_after() {
	awk -v n="$2" -v want="$3" '
		NR > n {
			if (want ~ /\*$/) {
				if (index($0, substr(want, 1, length(want) - 1)) == 1) { print NR; exit }
			} else if ($0 == want) { print NR; exit }
		}' "$1" 2>/dev/null
}

has_line_after() { [ -n "$(line_after "$@")" ]; }

# sd_notify: READY=1 once the port answers, STATUS=, WATCHDOG=1 every
# WATCHDOG_USEC/2, the stored count in STATUS=, RELOADING=1 then READY=1 on
# SIGHUP, STOPPING=1 on SIGTERM.
test_notify() {
	local sock=$TEST_DIR/notify.sock out=$TEST_DIR/notify.out files=() n mark
	local t_ready
	mapfile -t files < <(study_files)
	: >"$out"
	notify_listener "$sock" "$out"
	wait_for 5 test -S "$sock" || { err "the notify listener did not bind $sock"; return; }

	unset WATCHDOG_PID
	NOTIFY_SOCKET=$sock WATCHDOG_USEC=1000000 daemon_launch "$TEST_DIR" notify ||
		{ err "$DAEMON_ERROR"; return; }
	if ! wait_for 10 grep -qx 'READY=1' "$out"; then
		daemon_alive || { wait "$DAEMON_PID"; err "hrauditd exited with status $? without READY=1"; DAEMON_PID=; return; }
		err "no READY=1 within 10 s (got: $(tr '\n' ' ' <"$out" | head -c 200))"
		return
	fi
	t_ready=$(date +%s%N)
	# READY=1 means the port listens: the very first C-ECHO must work.
	echo_as "$TEST_DIR/echo-ready.out" TESTSCU ||
		err "READY=1 was sent but the first C-ECHO after it failed: $(errors_of "$TEST_DIR/echo-ready.out")"
	grep -q '^STATUS=.' "$out" || err "no STATUS= line with READY=1"

	# WATCHDOG_USEC=1 s: a WATCHDOG=1 every 0.5 s; at least 2 in 2.5 s.
	sleep "$(awk -v t0="$t_ready" -v now="$(date +%s%N)" 'BEGIN { d = 2.5 - (now - t0) / 1e9; print (d > 0 ? d : 0) }')"
	n=$(grep -cx 'WATCHDOG=1' "$out")
	((n >= 2)) || err "$n WATCHDOG=1 within 2.5 s of READY=1 with WATCHDOG_USEC=1000000, expected at least 2"

	storescu_send TESTSCU "$TEST_DIR/storescu.out" "${files[@]}"
	wait_for 3 grep -qE '^STATUS=.*(^|[^0-9])7 stored' "$out" ||
		err "no STATUS= with '7 stored' within 3 s of storing the study: last STATUS '$(grep '^STATUS=' "$out" | tail -n 1)'"

	mark=$(wc -l <"$out")
	kill -HUP "$DAEMON_PID" 2>/dev/null
	if ! wait_for 3 has_line_after "$out" "$mark" 'RELOADING=1'; then
		err "no RELOADING=1 within 3 s of SIGHUP"
	else
		n=$(line_after "$out" "$mark" 'RELOADING=1')
		wait_for 3 has_line_after "$out" "$n" 'READY=1' ||
			err "no READY=1 after RELOADING=1 within 3 s of SIGHUP"
	fi
	daemon_alive || { err "hrauditd died on SIGHUP"; return; }
	echo_ok "$DAEMON_PORT" || err "no C-ECHO answer after SIGHUP"

	mark=$(wc -l <"$out")
	daemon_stop
	[ "$DAEMON_STATUS" = 0 ] || err "hrauditd exited ${DAEMON_STATUS:-?} after SIGTERM (stopped in ${DAEMON_STOP_S}s)"
	wait_for 2 has_line_after "$out" "$mark" 'STOPPING=1' ||
		err "no STOPPING=1 after SIGTERM"
	check_log_lines
}

# ---- reload ------------------------------------------------------------------

# reload_expect PATTERN WHAT: sends SIGHUP and waits up to 2 s for one more
# log line with PATTERN.
reload_expect() {
	local before
	before=$(count_lines "$DAEMON_LOG" "$1")
	kill -HUP "$DAEMON_PID" 2>/dev/null
	wait_for 2 more_lines "$DAEMON_LOG" "$1" "$before" && return 0
	err "$2: no log line '$1' within 2 s of SIGHUP"
	return 1
}

# reload_refused WHAT LINE: SIGHUP with a bad file: a "not reloaded" log line
# naming FILE:LINE; the daemon lives on and still accepts OTHER.
reload_refused() {
	local where=${DAEMON_INI##*/}:$2 last
	if reload_expect 'not reloaded' "$1"; then
		last=$(grep -F 'not reloaded' "$DAEMON_LOG" | tail -n 1)
		[[ $last == *"$where"* ]] || err "$1: the log does not name $where: '$last'"
	fi
	daemon_alive || { err "hrauditd died on SIGHUP with $1"; return 1; }
	echo_as "$TEST_DIR/echo-line$2.out" OTHER ||
		err "$1: OTHER refused afterwards (the running configuration should stay): $(errors_of "$TEST_DIR/echo-line$2.out")"
}

# SIGHUP re-reads the file: a new allow line applies; a bad file (unknown
# key, port out of range) is reported as FILE:LINE and the running
# configuration stays; removing the line refuses the AE title again.
test_reload() {
	local ini access=$'[access]\nallow = TESTSCU 127.0.0.1\n'
	DAEMON_EXTRA_INI=$access start reload || return
	ini=$DAEMON_INI
	! echo_as "$TEST_DIR/echo-1.out" OTHER ||
		err "OTHER was accepted before it was allowed"

	# lines 1-6: write_config; 7 [access]; 8, 9 allow
	DAEMON_EXTRA_INI="${access}allow = OTHER"$'\n' \
		write_config "$ini" "$DAEMON_PORT" "$DAEMON_DB"
	if reload_expect 'configuration reloaded' "allow = OTHER added"; then
		echo_as "$TEST_DIR/echo-2.out" OTHER ||
			err "OTHER refused after the reload that allows it: $(errors_of "$TEST_DIR/echo-2.out")"
	fi

	# an unknown key on line 10
	DAEMON_EXTRA_INI="${access}allow = OTHER"$'\nfrobnicate = 1\n' \
		write_config "$ini" "$DAEMON_PORT" "$DAEMON_DB"
	reload_refused "an unknown key" 10 || return
	# a bad value on line 4
	DAEMON_EXTRA_INI="${access}allow = OTHER"$'\n' \
		write_config "$ini" 99999 "$DAEMON_DB"
	reload_refused "port = 99999" 4 || return
	echo_as "$TEST_DIR/echo-5.out" TESTSCU ||
		err "TESTSCU refused after the bad files: $(errors_of "$TEST_DIR/echo-5.out")"

	# back to TESTSCU alone: OTHER is refused again
	DAEMON_EXTRA_INI=$access write_config "$ini" "$DAEMON_PORT" "$DAEMON_DB"
	if reload_expect 'configuration reloaded' "allow = OTHER removed"; then
		! echo_as "$TEST_DIR/echo-6.out" OTHER ||
			err "OTHER still accepted after the reload that removed it"
	fi
	daemon_alive || err "hrauditd died after the reloads"
	check_log_lines
}

# ---- access-refused ----------------------------------------------------------

# rejected_lines AET: log lines saying an association from/to AET was rejected.
rejected_lines() {
	grep -F "'$1'" "$DAEMON_LOG" 2>/dev/null | grep -c 'rejected'
}

# The access list and the called AE title: refused associations record
# nothing and log one line each; then a good store to show it can pass.
test_access_refused() {
	local files=() d=$TEST_DIR n
	mapfile -t files < <(study_files)
	DAEMON_EXTRA_INI=$'[access]\nallow = TESTSCU 127.0.0.1\n' start access || return

	! store_as "$d/stranger-store.out" STRANGER HRAUDIT -- "${files[@]}" ||
		err "storescu -aet STRANGER succeeded (not in the access list)"
	db_empty "storescu -aet STRANGER"
	! echo_as "$d/stranger-echo.out" STRANGER || err "echoscu -aet STRANGER succeeded"
	grep -qF 'Calling AE Title Not Recognized' "$d/stranger-echo.out" ||
		err "echoscu -aet STRANGER: no 'Calling AE Title Not Recognized': $(errors_of "$d/stranger-echo.out")"

	! store_as "$d/wrongae-store.out" TESTSCU WRONGAE -- "${files[@]}" ||
		err "storescu -aec WRONGAE succeeded (check_called_aetitle = yes)"
	grep -qF 'Called AE Title Not Recognized' "$d/wrongae-store.out" ||
		err "storescu -aec WRONGAE: no 'Called AE Title Not Recognized': $(errors_of "$d/wrongae-store.out")"
	db_empty "storescu -aec WRONGAE"

	n=$(rejected_lines STRANGER)
	[ "$n" -eq 2 ] || err "$n 'rejected' log lines naming 'STRANGER', expected 2 (storescu, echoscu)"
	n=$(rejected_lines WRONGAE)
	[ "$n" -eq 1 ] || err "$n 'rejected' log lines naming 'WRONGAE', expected 1"
	grep -F 'rejected' "$DAEMON_LOG" | grep -F "'STRANGER'" | grep -qF '127.0.0.1' ||
		err "the log line rejecting STRANGER does not name the address 127.0.0.1"

	storescu_send TESTSCU "$d/good.out" "${files[@]}"
	expect_sql "$DAEMON_DB" "SELECT count(*) FROM series" 3 "series rows after the allowed store"
	daemon_stop

	# TESTSCU allowed only from 10.9.9.9; PROBE lets daemon_start see it up.
	DAEMON_ECHO_AET=PROBE \
		DAEMON_EXTRA_INI=$'[access]\nallow = TESTSCU 10.9.9.9\nallow = PROBE 127.0.0.1\n' \
		start access-addr || return
	! echo_as "$d/addr-echo.out" TESTSCU ||
		err "TESTSCU from 127.0.0.1 accepted although allowed only from 10.9.9.9"
	grep -qF 'Calling AE Title Not Recognized' "$d/addr-echo.out" ||
		err "TESTSCU from a wrong address: no 'Calling AE Title Not Recognized': $(errors_of "$d/addr-echo.out")"
	! store_as "$d/addr-store.out" TESTSCU HRAUDIT -- "${files[@]}" ||
		err "storescu TESTSCU from 127.0.0.1 succeeded although allowed only from 10.9.9.9"
	db_empty "storescu TESTSCU from a wrong address"
	n=$(rejected_lines TESTSCU)
	[ "$n" -eq 2 ] || err "$n 'rejected' log lines naming 'TESTSCU' from a wrong address, expected 2"
	daemon_stop

	# check_called_aetitle = no: any called AE title is ours.
	DAEMON_SERVER_INI=$'check_called_aetitle = no\n' \
		DAEMON_EXTRA_INI=$'[access]\nallow = TESTSCU 127.0.0.1\n' \
		start access-nocheck || return
	echo_as "$d/nocheck-echo.out" TESTSCU WRONGAE ||
		err "check_called_aetitle = no: echoscu -aec WRONGAE refused: $(errors_of "$d/nocheck-echo.out")"
	store_as "$d/nocheck-store.out" TESTSCU WRONGAE -- "$T"/study/series-c/*.dcm ||
		err "check_called_aetitle = no: storescu -aec WRONGAE failed: $(errors_of "$d/nocheck-store.out")"
	expect_sql "$DAEMON_DB" "SELECT instances FROM series WHERE series_uid = '$SERIES_C'" 2 \
		"series C stored with -aec WRONGAE and check_called_aetitle = no"
	! echo_as "$d/nocheck-stranger.out" STRANGER WRONGAE ||
		err "check_called_aetitle = no let STRANGER in"
	check_log_lines
}

# ---- tls ---------------------------------------------------------------------

# make_pki DIR: ca.pem/ca.key, server.pem/server.key (CN=localhost, SAN
# IP:127.0.0.1 and DNS:localhost), client.pem/client.key signed by the CA,
# and rogue.pem/rogue.key, a self-signed client certificate.  EC P-256.
make_pki() {
	local d=$1 name
	mkdir -p "$d" || return 1
	key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>>"$d/openssl.err"; }
	key "$d/ca.key" && openssl req -new -x509 -key "$d/ca.key" -out "$d/ca.pem" \
		-days 2 -subj '/CN=hraudit test CA' \
		-addext 'basicConstraints=critical,CA:TRUE' \
		-addext 'keyUsage=critical,keyCertSign,cRLSign' \
		-addext 'subjectKeyIdentifier=hash' 2>>"$d/openssl.err" || return 1
	printf '%s\n' 'basicConstraints=critical,CA:FALSE' \
		'keyUsage=critical,digitalSignature,keyAgreement' \
		'extendedKeyUsage=serverAuth' \
		'subjectAltName=IP:127.0.0.1,DNS:localhost' >"$d/server.ext"
	printf '%s\n' 'basicConstraints=critical,CA:FALSE' \
		'keyUsage=critical,digitalSignature,keyAgreement' \
		'extendedKeyUsage=clientAuth' >"$d/client.ext"
	for name in server client; do
		key "$d/$name.key" &&
			openssl req -new -key "$d/$name.key" -out "$d/$name.csr" \
				-subj "/CN=$([ $name = server ] && echo localhost || echo TESTSCU)" \
				2>>"$d/openssl.err" &&
			openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
				-CAcreateserial -days 2 -extfile "$d/$name.ext" \
				-out "$d/$name.pem" 2>>"$d/openssl.err" || return 1
	done
	key "$d/rogue.key" && openssl req -new -x509 -key "$d/rogue.key" -out "$d/rogue.pem" \
		-days 2 -subj '/CN=TESTSCU' 2>>"$d/openssl.err" || return 1
	unset -f key
}

# tls_store OUT TLSPORT [OPTIONS...] -- FILE...: TESTSCU to the tls port.
tls_store() {
	local out=$1 port=$2
	shift 2
	store_to "$out" "$port" TESTSCU HRAUDIT "$@"
}

# A TLS listener next to the plain one: a store with a client certificate
# works; plain DICOM on the TLS port is dropped with a log line and the
# daemon keeps serving; no client certificate, or one the CA did not sign,
# is refused.
test_tls() {
	local d=$TEST_DIR pki=$TEST_DIR/pki files=() tport t0 t1 rc n
	mapfile -t files < <(study_files)
	command -v openssl >/dev/null 2>&1 || { err "openssl not found"; return; }
	make_pki "$pki" || { err "cannot make the test certificates: $(first_line "$pki/openssl.err")"; return; }
	tport=$(free_port) || { err "no free port"; return; }

	DAEMON_EXTRA_INI="[tls]
port = $tport
certificate = $pki/server.pem
private_key = $pki/server.key
ca_file = $pki/ca.pem
" start tls || return

	tls_store "$d/tls-1.out" "$tport" +tls "$pki/client.key" "$pki/client.pem" \
		+cf "$pki/ca.pem" -- "${files[@]}" ||
		err "storescu +tls failed: $(errors_of "$d/tls-1.out")"
	expect_sql "$DAEMON_DB" "SELECT count(*) FROM series" 3 "series rows after the tls store"
	expect_sql "$DAEMON_DB" "SELECT count(*) FROM instance" 7 "instance rows after the tls store"

	n=$(count_lines "$DAEMON_LOG" 'not a tls handshake')
	t0=$SECONDS
	tls_store "$d/plain-on-tls.out" "$tport" -- "$T"/study/series-c/*.dcm
	rc=$?
	t1=$SECONDS
	[ $rc -ne 0 ] || err "plain storescu to the tls port succeeded"
	((t1 - t0 <= 4)) || err "plain storescu to the tls port took $((t1 - t0)) s to fail (exit $rc)"
	wait_for 2 more_lines "$DAEMON_LOG" 'not a tls handshake' "$n" ||
		err "no log line 'not a tls handshake' after plain DICOM on the tls port"
	daemon_alive || { err "hrauditd died after plain DICOM on the tls port"; return; }
	echo_ok "$DAEMON_PORT" || err "no C-ECHO answer on the plain port after plain DICOM on the tls port"
	tls_store "$d/tls-2.out" "$tport" +tls "$pki/client.key" "$pki/client.pem" \
		+cf "$pki/ca.pem" -- "$T"/study/series-a/*.dcm ||
		err "second storescu +tls failed: $(errors_of "$d/tls-2.out")"

	# client_certificate = require (the default): anonymous TLS is refused,
	# and so is a certificate the CA did not sign.
	! tls_store "$d/anon.out" "$tport" +tla +cf "$pki/ca.pem" -- "$T"/study/series-c/*.dcm ||
		err "anonymous tls (no client certificate) was accepted"
	! tls_store "$d/rogue.out" "$tport" +tls "$pki/rogue.key" "$pki/rogue.pem" \
		+cf "$pki/ca.pem" -- "$T"/study/series-c/*.dcm ||
		err "a self-signed client certificate was accepted"
	daemon_alive || { err "hrauditd died after refused tls clients"; return; }
	tls_store "$d/tls-3.out" "$tport" +tls "$pki/client.key" "$pki/client.pem" \
		+cf "$pki/ca.pem" -- "$T"/study/series-b/*.dcm ||
		err "storescu +tls after refused clients failed: $(errors_of "$d/tls-3.out")"
	expect_sql "$DAEMON_DB" "SELECT count(*) FROM series" 3 "series rows at the end"
	check_log_lines
}

# ---- stalled-client ----------------------------------------------------------

# Short timeouts: a silent connection, a half-sent A-ASSOCIATE-RQ and an
# association stalled inside a P-DATA-TF are closed in time, each with a log
# line, while a normal store goes through.
test_stalled_client() {
	local d=$TEST_DIR files=() pa pb pc pd rc sc=$here/stall_client.py n
	mapfile -t files < <(study_files)
	DAEMON_SERVER_INI=$'acse_timeout = 2\ndimse_timeout = 2\nsocket_timeout = 2\n' \
		start stall || return

	python3 "$sc" silent "$DAEMON_PORT" --min 1 --max 4 >"$d/silent.out" 2>&1 &
	pa=$!
	python3 "$sc" partial-rq "$DAEMON_PORT" --min 1 --max 4 >"$d/partial-rq.out" 2>&1 &
	pb=$!
	python3 "$sc" stall-pdata "$DAEMON_PORT" --min 1 --max 6 >"$d/stall-pdata.out" 2>&1 &
	pc=$!
	python3 "$sc" idle "$DAEMON_PORT" --calling IDLER --min 1 --max 4 >"$d/idle.out" 2>&1 &
	pd=$!
	BG_PIDS+=("$pa" "$pb" "$pc" "$pd")
	sleep 0.3

	storescu_send TESTSCU "$d/storescu.out" "${files[@]}"
	kill -0 "$pc" 2>/dev/null ||
		err "the store finished only after the stalled client had gone ($(first_line "$d/stall-pdata.out"))"
	expect_sql "$DAEMON_DB" "SELECT count(*) FROM series" 3 "series rows stored during the stalls"

	wait "$pa"
	rc=$?
	[ $rc -eq 0 ] || err "silent connection (acse_timeout = 2): $(first_line "$d/silent.out"), expected closed in 1-4 s"
	wait "$pb"
	rc=$?
	[ $rc -eq 0 ] || err "half an A-ASSOCIATE-RQ (acse_timeout = 2): $(first_line "$d/partial-rq.out"), expected closed in 1-4 s"
	wait "$pc"
	rc=$?
	[ $rc -eq 0 ] || err "stalled inside a P-DATA-TF (socket_timeout = 2): $(first_line "$d/stall-pdata.out"), expected closed in 1-6 s"
	wait "$pd"
	rc=$?
	[ $rc -eq 0 ] || err "associated and idle (dimse_timeout = 2): $(first_line "$d/idle.out"), expected closed in 1-4 s"

	sleep 0.2
	n=$(count_lines "$DAEMON_LOG" 'no association request in time')
	[ "$n" -ge 2 ] || err "$n log lines 'no association request in time', expected 2 (silent, half RQ)"
	# The stalled association ends without A-RELEASE: one line naming it,
	# and not as released.
	n=$(grep -F "'STALLER'" "$DAEMON_LOG" | grep -vc 'released:')
	[ "$n" -eq 1 ] ||
		err "$n log lines about dropping the stalled association from 'STALLER', expected 1"
	! grep -F "'STALLER'" "$DAEMON_LOG" | grep -q 'released:' ||
		err "the stalled association from 'STALLER' was logged as released"
	grep -F "'IDLER'" "$DAEMON_LOG" | grep -q 'idle for 2 s, aborted' ||
		err "no log line 'idle for 2 s, aborted' for the idle association from 'IDLER'"
	daemon_alive || { err "hrauditd died"; return; }
	echo_ok "$DAEMON_PORT" || err "no C-ECHO answer after the stalled clients"
	check_log_lines
}

# ---- db-permissions ----------------------------------------------------------

# Started with umask 000, the daemon still creates its database 0640.
test_db_permissions() {
	local old mode f rc
	old=$(umask)
	umask 000
	start perms
	rc=$?
	umask "$old"
	[ $rc -eq 0 ] || return
	storescu_send TESTSCU "$TEST_DIR/storescu.out" "$T"/study/series-a/*.dcm
	for f in "$DAEMON_DB" "$DAEMON_DB-wal" "$DAEMON_DB-shm"; do
		[ -e "$f" ] || { [ "$f" = "$DAEMON_DB" ] && err "no database file"; continue; }
		mode=$(stat -c %a "$f")
		[ "$mode" = 640 ] || err "${f##*/} has mode $mode with the caller's umask 000, expected 640"
	done
	check_log_lines
}
