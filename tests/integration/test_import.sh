# test_import.sh - integration tests of `hraudit import`, `hraudit export`
# (date filters, atomic -o and --daily) and the export's systemd units.
#
# Sourced by run.sh, whose helpers (err, start, sql, expect_sql,
# storescu_send, study_files, check_no_canaries) and variables (T, TEST_DIR,
# HRAUDIT, root) these functions use; defines functions only.
# shellcheck shell=bash
# shellcheck disable=SC2154 # root, T, HRAUDIT, ... are set by run.sh

# export_csv_without_arrival FILE: the CSV without the columns that depend
# on how and when the objects arrived (first_received, last_received,
# calling_aet), one line per record.
export_csv_without_arrival() {
	python3 - "$1" <<'EOF'
import csv, sys

drop = {"first_received", "last_received", "calling_aet"}
with open(sys.argv[1], newline="") as f:
    rows = list(csv.reader(f))
keep = [i for i, name in enumerate(rows[0]) if name not in drop]
for r in rows:
    print("\x1f".join(r[i] for i in keep))
EOF
}

# import_files DIR: the test study copied into DIR, with what a real folder
# holds besides DICOM: a text file, and a symbolic link to an ancestor.
import_files() {
	local dir=$1
	mkdir -p "$dir" && cp -R "$T"/study/series-* "$dir"/ || return 1
	printf 'not a dicom file\n' >"$dir/notes.txt"
	ln -s .. "$dir/series-a/loop"
}

# `hraudit import DIR` records what the same files sent over the network
# record; an unreadable file is listed and skipped; a second import finds
# duplicates only; a PATH that does not exist fails the run.
test_import() {
	local dir=$TEST_DIR files=() rc out want line
	if [ ! -x "$HRAUDIT" ]; then
		err "no executable '$HRAUDIT' (build it, or set HRAUDIT)"
		return
	fi
	import_files "$dir/files" || { err "cannot copy the study"; return; }
	mapfile -t files < <(study_files)

	# B: over the network.  A: imported, with the daemon's configuration.
	start net || return
	storescu_send TESTSCU "$dir/storescu.out" "${files[@]}"
	daemon_stop
	timeout 60 "$HRAUDIT" -f "$DAEMON_INI" --db "$dir/import.db" import "$dir/files" \
		>"$dir/import-1.out" 2>"$dir/import-1.err"
	rc=$?
	[ $rc -eq 0 ] || err "import exited $rc: $(head -c 300 "$dir/import-1.err")"
	want="10 files: 7 recorded (3 new series), 2 not cardiac, 0 duplicates, 1 unreadable"
	[ "$(cat "$dir/import-1.out")" = "$want" ] ||
		err "import said '$(head -c 300 "$dir/import-1.out")', expected '$want'"
	grep -qF "skipped '$dir/files/notes.txt': not a dicom file" "$dir/import-1.err" ||
		err "the unreadable file is not listed: '$(head -c 300 "$dir/import-1.err")'"
	[ "$(grep -c . "$dir/import-1.err")" -eq 1 ] ||
		err "stderr has more than the unreadable file: '$(head -c 300 "$dir/import-1.err")'"
	! grep -q $'\r' "$dir/import-1.err" ||
		err "a progress bar was drawn on stderr, which is not a terminal"

	"$HRAUDIT" --db "$DAEMON_DB" export -o "$dir/net.csv" 2>"$dir/export.err" ||
		err "export of the network database failed: $(head -c 300 "$dir/export.err")"
	"$HRAUDIT" --db "$dir/import.db" export -o "$dir/import.csv" 2>"$dir/export.err" ||
		err "export of the imported database failed: $(head -c 300 "$dir/export.err")"
	export_csv_without_arrival "$dir/net.csv" >"$dir/net.rows"
	export_csv_without_arrival "$dir/import.csv" >"$dir/import.rows"
	if [ "$(grep -c . "$dir/import.rows")" -ne 4 ]; then
		err "the import export has $(grep -c . "$dir/import.rows") lines, expected a header and 3 rows"
	elif ! cmp -s "$dir/net.rows" "$dir/import.rows"; then
		err "import and network exports differ: $(diff "$dir/net.rows" "$dir/import.rows" | head -n 4 | tr '\n' ' ')"
	fi
	expect_sql "$dir/import.db" "SELECT group_concat(DISTINCT calling_aet) FROM series" \
		IMPORT "calling_aet of imported series"
	expect_sql "$dir/import.db" "SELECT count(*) FROM instance" \
		"$(sql "$DAEMON_DB" "SELECT count(*) FROM instance")" "instances, import vs network"
	check_no_canaries "$dir/import.db" "$dir/import.db-wal" "$dir/import.csv" \
		"$dir/import-1.out" "$dir/import-1.err"

	# Again: nothing new, and the database does not change.
	timeout 60 "$HRAUDIT" -f "$DAEMON_INI" --db "$dir/import.db" import "$dir/files" \
		>"$dir/import-2.out" 2>"$dir/import-2.err"
	rc=$?
	[ $rc -eq 0 ] || err "second import exited $rc: $(head -c 300 "$dir/import-2.err")"
	want="10 files: 0 recorded (0 new series), 2 not cardiac, 7 duplicates, 1 unreadable"
	[ "$(cat "$dir/import-2.out")" = "$want" ] ||
		err "second import said '$(head -c 300 "$dir/import-2.out")', expected '$want'"
	"$HRAUDIT" --db "$dir/import.db" export -o "$dir/import-2.csv"
	cmp -s "$dir/import.csv" "$dir/import-2.csv" ||
		err "the second import changed the export"

	# A single file, and a PATH that is not there (listed; exit 1).
	out=$(timeout 60 "$HRAUDIT" --db "$dir/import.db" import "$dir/files/series-b/0001.dcm" \
		"$dir/no-such-folder" 2>"$dir/import-3.err")
	rc=$?
	[ $rc -eq 1 ] || err "import of a missing PATH exited $rc, expected 1"
	want="2 files: 0 recorded (0 new series), 0 not cardiac, 1 duplicates, 1 unreadable"
	[ "$out" = "$want" ] || err "import of a file and a missing PATH said '$out', expected '$want'"
	grep -qF "skipped '$dir/no-such-folder'" "$dir/import-3.err" ||
		err "the missing PATH is not named: '$(head -c 300 "$dir/import-3.err")'"

	# On a terminal: a progress bar on stderr, cleared before the summary.
	if command -v script >/dev/null 2>&1; then
		TERM=dumb timeout 60 script -qec "$(printf '%q --db %q import %q' \
			"$HRAUDIT" "$dir/tty.db" "$dir/files")" /dev/null \
			>"$dir/tty.out" 2>&1 </dev/null
		grep -aqF '] 10/10 files' "$dir/tty.out" ||
			grep -aqE '\] [0-9]+/10 files' "$dir/tty.out" ||
			err "no progress bar on a terminal: '$(head -c 300 "$dir/tty.out" | tr '\r' '|')'"
		line=$(tr '\r' '\n' <"$dir/tty.out" | grep -a 'files:' | tail -n 1)
		[ "$line" = "10 files: 7 recorded (3 new series), 2 not cardiac, 0 duplicates, 1 unreadable" ] ||
			err "summary on a terminal: '$line'"
	fi
}

# export --from/--to select by study date, both ends included; -o and
# --daily replace the file atomically and leave no temporary file, also
# when the file cannot be replaced.
test_export_dates_atomic() {
	local dir=$TEST_DIR db=$TEST_DIR/dates.db out rc n today1 today2 ino f a
	if [ ! -x "$HRAUDIT" ]; then
		err "no executable '$HRAUDIT' (build it, or set HRAUDIT)"
		return
	fi
	# A second study, a month later: the dumps with other UIDs and dates.
	mkdir -p "$dir/data"
	for f in "$root"/tests/data/study.dump "$root"/tests/data/series-*.dump; do
		sed -e 's/1\.2\.826\.0\.1\.3680043\.10\.1234\./1.2.826.0.1.3680043.10.1234.9./g' \
			-e 's/^\((0008,002[01]) DA \)\[20240312\]/\1[20240412]/' \
			"$f" >"$dir/data/${f##*/}"
	done
	build_study "$dir/data" "$dir/study2" 2>"$dir/build.err" ||
		{ err "cannot build the second study: $(head -c 300 "$dir/build.err")"; return; }
	"$HRAUDIT" --db "$db" import "$T/study" "$dir/study2" >"$dir/import.out" 2>&1 ||
		{ err "import failed: $(head -c 300 "$dir/import.out")"; return; }
	expect_sql "$db" "SELECT group_concat(study_date || ':' || n) FROM
		(SELECT study_date, count(*) AS n FROM series GROUP BY 1 ORDER BY 1)" \
		"2024-03-12:3,2024-04-12:3" "series per study date"

	# rows ARGS...: data rows of a CSV export to stdout
	rows() {
		local o
		o=$("$HRAUDIT" --db "$db" export "$@" 2>"$dir/rows.err") || { echo "exit $?"; return; }
		printf '%s' "$o" | python3 -c 'import csv, sys
rows = list(csv.reader(sys.stdin))
d = rows[0].index("study_date")
print(",".join(sorted(set(r[d] for r in rows[1:]))) + " " + str(len(rows) - 1))'
	}
	n=$(rows)
	[ "$n" = "2024-03-12,2024-04-12 6" ] || err "no filter: '$n'"
	n=$(rows --from 2024-03-13)
	[ "$n" = "2024-04-12 3" ] || err "--from 2024-03-13: '$n'"
	n=$(rows --to 2024-03-12)
	[ "$n" = "2024-03-12 3" ] || err "--to 2024-03-12 (inclusive): '$n'"
	n=$(rows --from 2024-04-12 --to 2024-04-12)
	[ "$n" = "2024-04-12 3" ] || err "--from = --to 2024-04-12: '$n'"
	n=$(rows --from 2024-03-13 --to 2024-04-11)
	[ "$n" = " 0" ] || err "--from 2024-03-13 --to 2024-04-11 (no study): '$n'"
	n=$("$HRAUDIT" --db "$db" export --format json --to 2024-03-31 2>&1 |
		python3 -c 'import json, sys; print(len(json.load(sys.stdin)))' 2>&1)
	[ "$n" = 3 ] || err "json --to 2024-03-31: '$n' rows, expected 3"
	for a in "--from 2024-02-30" "--to 2024-3-12" "--from 20240312" \
		"--from 2024-04-12 --to 2024-03-12" "-o $dir/x.csv --daily $dir"; do
		# shellcheck disable=SC2086 # the options are meant to split
		"$HRAUDIT" --db "$db" export $a >/dev/null 2>"$dir/bad.err"
		rc=$?
		[ $rc -eq 2 ] || err "export $a: exit status $rc, expected 2"
		[ -s "$dir/bad.err" ] || err "export $a: no message"
	done
	unset -f rows

	# -o FILE: replaced by rename (a new inode), same bytes as stdout.
	mkdir -p "$dir/out"
	"$HRAUDIT" --db "$db" export --from 2024-04-01 >"$dir/stdout.csv"
	printf 'previous export\n' >"$dir/out/hr.csv"
	ino=$(stat -c %i "$dir/out/hr.csv")
	"$HRAUDIT" --db "$db" export --from 2024-04-01 -o "$dir/out/hr.csv" 2>"$dir/o.err" ||
		err "export -o failed: $(head -c 300 "$dir/o.err")"
	cmp -s "$dir/stdout.csv" "$dir/out/hr.csv" || err "export -o FILE differs from stdout"
	[ "$(stat -c %i "$dir/out/hr.csv")" != "$ino" ] ||
		err "export -o rewrote FILE in place instead of renaming a new file over it"
	[ "$(stat -c %a "$dir/out/hr.csv")" = "$(printf '%o' $((0666 & ~0$(umask))))" ] ||
		err "export -o FILE has mode $(stat -c %a "$dir/out/hr.csv"), not 0666 & ~umask"

	# A FILE that cannot be replaced (a folder: rename(2) fails once the
	# export is written): exit 1 with a message, the temporary file removed.
	mkdir -p "$dir/out/folder.csv"
	"$HRAUDIT" --db "$db" export -o "$dir/out/folder.csv" >"$dir/folder.out" 2>"$dir/folder.err"
	rc=$?
	[ $rc -eq 1 ] || err "export -o FOLDER: exit status $rc, expected 1"
	grep -qF "cannot write '$dir/out/folder.csv'" "$dir/folder.err" ||
		err "export -o FOLDER: no message: '$(head -c 300 "$dir/folder.err")'"
	[ "$(cat "$dir/out/hr.csv")" = "$(cat "$dir/stdout.csv")" ] ||
		err "a failed export -o changed another file"
	rmdir "$dir/out/folder.csv"

	# --daily DIR: DIR/hraudit-YYYY-MM-DD.csv (json), today.
	today1=$(date +%F)
	"$HRAUDIT" --db "$db" export --from 2024-04-01 --daily "$dir/out" 2>"$dir/daily.err" ||
		err "export --daily failed: $(head -c 300 "$dir/daily.err")"
	"$HRAUDIT" --db "$db" export --format json --daily "$dir/out/" 2>>"$dir/daily.err" ||
		err "export --format json --daily failed: $(head -c 300 "$dir/daily.err")"
	today2=$(date +%F)
	if [ -f "$dir/out/hraudit-$today1.csv" ]; then
		cmp -s "$dir/stdout.csv" "$dir/out/hraudit-$today1.csv" ||
			err "export --daily differs from stdout"
	elif [ ! -f "$dir/out/hraudit-$today2.csv" ]; then
		err "no hraudit-$today1.csv in the --daily folder: $(find "$dir/out" -mindepth 1 -printf '%f ')"
	fi
	[ -f "$dir/out/hraudit-$today1.json" ] || [ -f "$dir/out/hraudit-$today2.json" ] ||
		err "no hraudit-$today1.json in the --daily folder: $(find "$dir/out" -mindepth 1 -printf '%f ')"
	out=$(find "$dir/out" -name '*.csv.*' -o -name '*.json.*' | head -n 3)
	[ -z "$out" ] || err "temporary files left: $out"
	"$HRAUDIT" --db "$db" export --daily "$dir/no-such-dir" >/dev/null 2>"$dir/nodir.err"
	rc=$?
	[ $rc -eq 1 ] || err "export --daily into a missing folder: exit $rc, expected 1"
}

# The export's service and timer pass `systemd-analyze verify` (with the
# service's ExecStart pointing at the built binary, as `make install` points
# it at BINDIR) and the service's sandbox stays hardened.
test_export_units() {
	local dir=$TEST_DIR/units line exec
	if ! command -v systemd-analyze >/dev/null 2>&1; then
		err "systemd-analyze not found (install systemd)"
		return
	fi
	mkdir -p "$dir/man/man1"
	exec=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$root/systemd/hraudit-export.service")
	[ "$exec" = /usr/local/bin/hraudit ] ||
		err "ExecStart runs '$exec', not /usr/local/bin/hraudit (which make install rewrites)"
	sed "s|^ExecStart=/usr/local/bin/hraudit |ExecStart=$HRAUDIT |" \
		"$root/systemd/hraudit-export.service" >"$dir/hraudit-export.service"
	cp "$root/systemd/hraudit-export.timer" "$dir/"
	# Documentation=man:hraudit(1) is looked up with man(1): the repository's.
	cp "$root/man/hraudit.1" "$dir/man/man1/"
	if command -v man >/dev/null 2>&1; then
		MANPATH=$dir/man SYSTEMD_LOG_COLOR=0 systemd-analyze verify \
			"$dir/hraudit-export.service" "$dir/hraudit-export.timer" >"$dir/verify.out" 2>&1
	else
		SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no \
			"$dir/hraudit-export.service" "$dir/hraudit-export.timer" >"$dir/verify.out" 2>&1
	fi || err "systemd-analyze verify failed: $(head -n 3 "$dir/verify.out" | tr '\n' ' ')"
	while IFS= read -r line; do
		err "systemd-analyze verify: $line"
	done < <(grep -a 'hraudit-export' "$dir/verify.out")
	# Exposure 0.0 (safe) .. 10.0: the service must stay below 2.0.
	systemd-analyze security --offline=true --threshold=20 "$dir/hraudit-export.service" \
		>"$dir/security.out" 2>&1 ||
		err "systemd-analyze security: $(grep -a 'Overall exposure' "$dir/security.out" || head -n 2 "$dir/security.out")"
	grep -qx 'OnCalendar=\*-\*-\* 02:30:00' "$root/systemd/hraudit-export.timer" ||
		err "the timer does not run at 02:30"
	grep -qx 'Persistent=true' "$root/systemd/hraudit-export.timer" ||
		err "the timer is not Persistent=true"
}
