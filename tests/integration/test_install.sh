# test_install.sh - integration tests of `make install` and `make
# uninstall` (into a DESTDIR), of the installed units, sysusers.d and
# tmpfiles.d files, and of the man pages.
#
# Sourced by run.sh, whose helpers (err) and variables (TEST_DIR, HRAUDITD,
# HRAUDIT, root) these functions use; defines functions only.  Installs the
# binaries the other tests run, without building anything.
# shellcheck shell=bash
# shellcheck disable=SC2154 # root, TEST_DIR, HRAUDITD, ... are set by run.sh

# What `make install PREFIX=/usr` puts in DESTDIR, as "MODE PATH", besides
# the files of sql/ (in usr/share/hraudit/sql, mode 644).
INSTALL_FILES=$(
	cat <<'EOF'
640 etc/hraudit/hrauditd.ini
755 usr/bin/hraudit
644 usr/lib/systemd/system/hraudit-export.service
644 usr/lib/systemd/system/hraudit-export.timer
644 usr/lib/systemd/system/hrauditd.service
644 usr/lib/sysusers.d/hraudit.conf
644 usr/lib/tmpfiles.d/hraudit.conf
755 usr/sbin/hrauditd
644 usr/share/doc/hraudit/examples/orthanc-forward.lua
644 usr/share/man/man1/hraudit.1
644 usr/share/man/man5/hrauditd.ini.5
644 usr/share/man/man8/hrauditd.8
EOF
)
# The folders `make uninstall` leaves: those other packages share, and
# /etc/hraudit with the configuration.  usr/share/hraudit and
# usr/share/doc/hraudit are removed.
UNINSTALL_DIRS=$(
	cat <<'EOF'
etc
etc/hraudit
usr
usr/bin
usr/lib
usr/lib/systemd
usr/lib/systemd/system
usr/lib/sysusers.d
usr/lib/tmpfiles.d
usr/sbin
usr/share
usr/share/doc
usr/share/man
usr/share/man/man1
usr/share/man/man5
usr/share/man/man8
EOF
)

# make_dest TARGET DESTDIR OUT: `make TARGET` with PREFIX=/usr into DESTDIR,
# its output in OUT.  `-o all`: install copies the binaries the tests run
# (BUILD is their folder) and builds nothing.  The environment's MAKEFLAGS
# (when run from `make integration`) could carry other paths: dropped.
make_dest() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		make -C "$root" --no-print-directory -o all "$1" \
		DESTDIR="$2" PREFIX=/usr BUILD="${HRAUDITD%/*}" >"$3" 2>&1
}

# install_dest DESTDIR: make install into DESTDIR; on failure records why.
install_dest() {
	if [ ! -x "$HRAUDITD" ] || [ ! -x "$HRAUDIT" ]; then
		err "no executables '$HRAUDITD' and '$HRAUDIT' (build them, or set HRAUDITD, HRAUDIT)"
		return 1
	fi
	if [ "${HRAUDITD%/*}" != "${HRAUDIT%/*}" ]; then
		err "HRAUDITD and HRAUDIT are in different folders: make install takes both from one BUILD"
		return 1
	fi
	make_dest install "$1" "$TEST_DIR/install.out" && return 0
	err "make install failed: $(tail -n 3 "$TEST_DIR/install.out" | tr '\n' ' ')"
	return 1
}

# files_with_modes DIR: "MODE PATH" of every file under DIR, sorted by path.
files_with_modes() {
	(cd "$1" && find . -type f -printf '%m %P\n') | sort -k 2
}

# The exact file list and modes; the units run the installed binaries; an
# edited configuration survives a second install (the new one is .dist);
# uninstall removes everything else.  Nothing is rebuilt.
test_install_layout() {
	local dest=$TEST_DIR/root conf want stamp f n
	conf=$dest/etc/hraudit/hrauditd.ini
	stamp=$(stat -c '%Y %n' "$HRAUDITD" "$HRAUDIT" 2>/dev/null)
	install_dest "$dest" || return

	want=$({
		printf '%s\n' "$INSTALL_FILES"
		(cd "$root" && find sql -type f -printf '644 usr/share/hraudit/%p\n')
	} | sort -k 2)
	[ "$(files_with_modes "$dest")" = "$want" ] ||
		err "installed files differ (-want +got): $(diff <(echo "$want") \
			<(files_with_modes "$dest") | grep '^[<>]' | head -n 6 | tr '\n' ' ')"
	[ "$(stat -c %a "$dest/etc/hraudit" 2>/dev/null)" = 750 ] ||
		err "etc/hraudit is mode $(stat -c %a "$dest/etc/hraudit" 2>&1), expected 750"
	cmp -s "$HRAUDITD" "$dest/usr/sbin/hrauditd" ||
		err "usr/sbin/hrauditd is not '$HRAUDITD'"
	cmp -s "$HRAUDIT" "$dest/usr/bin/hraudit" || err "usr/bin/hraudit is not '$HRAUDIT'"
	cmp -s "$root/etc/hrauditd.ini" "$conf" || err "etc/hraudit/hrauditd.ini is not etc/hrauditd.ini"
	cmp -s "$root/etc/orthanc-forward.lua" "$dest/usr/share/doc/hraudit/examples/orthanc-forward.lua" ||
		err "usr/share/doc/hraudit/examples/orthanc-forward.lua is not etc/orthanc-forward.lua"

	# Only the Exec*= lines naming the binaries change, to the installed
	# paths: ExecStart= in both, ExecReload= (the check) in hrauditd's.
	for f in hrauditd.service:4 hraudit-export.service:2; do
		n=$(diff "$root/systemd/${f%:*}" "$dest/usr/lib/systemd/system/${f%:*}" | grep -c '^[<>]')
		[ "$n" -eq "${f#*:}" ] ||
			err "installed ${f%:*} differs from systemd/${f%:*} in $n lines, expected ${f#*:} (its Exec lines)"
	done
	grep -qx 'ExecReload=/usr/sbin/hrauditd -n -f /etc/hraudit/hrauditd.ini' \
		"$dest/usr/lib/systemd/system/hrauditd.service" ||
		err "hrauditd.service: ExecReload= check not rewritten to /usr/sbin/hrauditd"
	grep -qx 'ExecStart=/usr/sbin/hrauditd -f /etc/hraudit/hrauditd.ini' \
		"$dest/usr/lib/systemd/system/hrauditd.service" ||
		err "hrauditd.service: ExecStart= not rewritten to /usr/sbin/hrauditd: $(grep '^ExecStart=' \
			"$dest/usr/lib/systemd/system/hrauditd.service")"
	grep -q '^ExecStart=/usr/bin/hraudit -f /etc/hraudit/hrauditd.ini export ' \
		"$dest/usr/lib/systemd/system/hraudit-export.service" ||
		err "hraudit-export.service: ExecStart= not rewritten to /usr/bin/hraudit"

	# An edited configuration is kept; the new sample goes beside it.
	printf '# edited by the test\n' >>"$conf"
	cp "$conf" "$TEST_DIR/edited.ini"
	make_dest install "$dest" "$TEST_DIR/install-2.out" ||
		err "second make install failed: $(tail -n 3 "$TEST_DIR/install-2.out" | tr '\n' ' ')"
	cmp -s "$TEST_DIR/edited.ini" "$conf" ||
		err "a second install overwrote the edited etc/hraudit/hrauditd.ini"
	cmp -s "$root/etc/hrauditd.ini" "$conf.dist" ||
		err "a second install did not put the new configuration in hrauditd.ini.dist"
	[ "$(stat -c %a "$conf.dist" 2>/dev/null)" = 640 ] ||
		err "hrauditd.ini.dist is mode $(stat -c %a "$conf.dist" 2>&1), expected 640"
	grep -qF "kept $conf" "$TEST_DIR/install-2.out" ||
		err "the second install does not say it kept the configuration"

	[ "$(stat -c '%Y %n' "$HRAUDITD" "$HRAUDIT" 2>/dev/null)" = "$stamp" ] ||
		err "make install rebuilt the binaries"

	# Uninstall: the edited configuration stays, and the shared folders.
	make_dest uninstall "$dest" "$TEST_DIR/uninstall.out" ||
		err "make uninstall failed: $(tail -n 3 "$TEST_DIR/uninstall.out" | tr '\n' ' ')"
	[ "$(files_with_modes "$dest")" = "640 etc/hraudit/hrauditd.ini" ] ||
		err "uninstall left: $(files_with_modes "$dest" | head -n 6 | tr '\n' ' ')"
	cmp -s "$TEST_DIR/edited.ini" "$conf" || err "uninstall changed the configuration"
	[ "$( (cd "$dest" && find . -mindepth 1 -type d -printf '%P\n') | sort)" = \
		"$UNINSTALL_DIRS" ] ||
		err "folders after uninstall differ (-want +got): $(diff <(echo "$UNINSTALL_DIRS") \
			<(cd "$dest" && find . -mindepth 1 -type d -printf '%P\n' | sort) |
			grep '^[<>]' | tr '\n' ' ')"
}

# The installed hrauditd.service passes systemd-analyze verify and rates
# 1.5 or better in systemd-analyze security; systemd-sysusers and
# systemd-tmpfiles create the user and /var/lib/hraudit from the installed
# files.
test_unit_security() {
	local dest=$TEST_DIR/root unit dir=$TEST_DIR/units line level pw uid gid home shell
	unit=$dest/usr/lib/systemd/system/hrauditd.service
	if ! command -v systemd-analyze >/dev/null 2>&1; then
		err "systemd-analyze not found (install systemd)"
		return
	fi
	install_dest "$dest" || return

	for line in Type=notify NotifyAccess=main User=hraudit Group=hraudit \
		AmbientCapabilities=CAP_NET_BIND_SERVICE \
		CapabilityBoundingSet=CAP_NET_BIND_SERVICE StateDirectory=hraudit \
		'Documentation=man:hrauditd(8) man:hrauditd.ini(5) man:hraudit(1)'; do
		grep -qxF "$line" "$unit" || err "hrauditd.service lacks '$line'"
	done

	# verify wants ExecStart's binary on this machine: the DESTDIR's; and
	# the Documentation= pages (man(1)): the DESTDIR's too.
	mkdir -p "$dir"
	sed "s|^\(Exec[A-Za-z]*\)=/usr/sbin/hrauditd |\1=$dest/usr/sbin/hrauditd |" \
		"$unit" >"$dir/hrauditd.service"
	if command -v man >/dev/null 2>&1; then
		MANPATH=$dest/usr/share/man SYSTEMD_LOG_COLOR=0 systemd-analyze verify \
			"$dir/hrauditd.service" >"$dir/verify.out" 2>&1
	else
		SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no \
			"$dir/hrauditd.service" >"$dir/verify.out" 2>&1
	fi || err "systemd-analyze verify failed: $(head -n 3 "$dir/verify.out" | tr '\n' ' ')"
	while IFS= read -r line; do
		err "systemd-analyze verify: $line"
	done < <(grep -a 'hrauditd' "$dir/verify.out")

	# Exposure 0.0 (safe) .. 10.0 (unsafe).
	SYSTEMD_LOG_COLOR=0 systemd-analyze security --offline=true --no-pager \
		"$dir/hrauditd.service" >"$dir/security.out" 2>&1
	level=$(sed -n 's/.*Overall exposure level for hrauditd\.service: \([0-9.]*\).*/\1/p' \
		"$dir/security.out")
	if [ -z "$level" ]; then
		err "systemd-analyze security gave no level: $(head -n 3 "$dir/security.out" | tr '\n' ' ')"
	elif ! awk -v l="$level" 'BEGIN { exit !(l <= 1.5) }'; then
		err "exposure level $level, above 1.5: $(grep -a '^✗' "$dir/security.out" |
			awk '{ print $2, $NF }' | tr '\n' ' ')"
	fi

	# The user and the state folder, created in the DESTDIR as on a system
	# that has only root (systemd-sysusers and systemd-tmpfiles read the
	# DESTDIR's usr/lib/{sysusers,tmpfiles}.d: the installed files).
	if [ "$(id -u)" -ne 0 ]; then
		err "creating the user and /var/lib/hraudit needs root (chown)"
		return
	fi
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$dest/etc/passwd"
	printf 'root:x:0:\n' >"$dest/etc/group"
	systemd-sysusers --root="$dest" >"$dir/sysusers.out" 2>&1 ||
		err "systemd-sysusers failed: $(head -n 3 "$dir/sysusers.out" | tr '\n' ' ')"
	pw=$(grep '^hraudit:' "$dest/etc/passwd")
	IFS=: read -r _ _ uid gid _ home shell <<<"$pw"
	if [ -z "$pw" ]; then
		err "systemd-sysusers created no hraudit user"
	else
		[ "$home" = /var/lib/hraudit ] || err "hraudit's home is '$home', not /var/lib/hraudit"
		[ "${shell##*/}" = nologin ] || err "hraudit's shell is '$shell', not nologin"
		((uid > 0 && uid < 1000)) || err "hraudit's uid $uid is not a system uid"
		grep -q "^hraudit:x:$gid:" "$dest/etc/group" ||
			err "no hraudit group with gid $gid"
	fi
	systemd-tmpfiles --create --root="$dest" >"$dir/tmpfiles.out" 2>&1 ||
		err "systemd-tmpfiles failed: $(head -n 3 "$dir/tmpfiles.out" | tr '\n' ' ')"
	[ "$(stat -c '%F %a %u:%g' "$dest/var/lib/hraudit" 2>&1)" = "directory 750 $uid:$gid" ] ||
		err "var/lib/hraudit: $(stat -c '%F %a %u:%g' "$dest/var/lib/hraudit" 2>&1), expected directory 750 $uid:$gid"
}

# Every man page renders without a warning, with mandoc and with groff.
test_man_lint() {
	local f out tools=0
	for f in "$root"/man/*.[0-9]; do
		if command -v mandoc >/dev/null 2>&1; then
			tools=$((tools | 1))
			out=$(mandoc -Tlint -Wwarning "$f" 2>&1) ||
				err "mandoc -Tlint: ${f##*/}: exit status $?: $(head -n 2 <<<"$out" | tr '\n' ' ')"
			[ -z "$out" ] || err "mandoc -Tlint: $(head -n 2 <<<"$out" | tr '\n' ' ')"
		fi
		if command -v groff >/dev/null 2>&1; then
			tools=$((tools | 2))
			out=$(groff -t -man -ww -z "$f" 2>&1) ||
				err "groff: ${f##*/}: exit status $?: $(head -n 2 <<<"$out" | tr '\n' ' ')"
			[ -z "$out" ] || err "groff: ${f##*/}: $(head -n 2 <<<"$out" | tr '\n' ' ')"
		fi
	done
	[ "$tools" -ne 0 ] || err "neither mandoc nor groff found (install mandoc, groff-base)"
}
