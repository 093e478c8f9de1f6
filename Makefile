# hraudit - one flat GNU Makefile.
#
#   make            build build/hrauditd and build/hraudit
#   make run        install what is missing, build, run hrauditd in the foreground
#   make test       install what is missing, build with -Werror, run every test
#   make demo       send the bundled sample study to a running `make run`
#   make soak       the long checks (about 10 minutes): 20 000 instances over
#                   8 associations with the memory sampled, the integration
#                   tests under ASan+UBSan, and with hrauditd under valgrind
#   make install    PREFIX=/usr/local DESTDIR=  (binaries, man pages, units,
#                   sysusers.d, tmpfiles.d, configuration, sql, examples)
#   make uninstall  same PREFIX and DESTDIR; keeps the configuration
#   make clean

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
DATADIR    ?= $(PREFIX)/share/hraudit
DOCDIR     ?= $(PREFIX)/share/doc/hraudit
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
SYSCONFDIR ?= /etc
DESTDIR    ?=

CC         ?= cc
CXX        ?= c++
BUILD      ?= build
CFLAGS     ?= -O2 -g
CXXFLAGS   ?= -O2 -g

WARN       = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
             -Wformat=2 -Wno-format-nonliteral
WERROR     ?=
ALL_CFLAGS = -std=c11 $(WARN) $(if $(WERROR),-Werror) \
             -Iinclude -MMD -MP $(CFLAGS) $(CPPFLAGS)
ALL_CXXFLAGS = -std=c++17 -Wall -Wextra $(if $(WERROR),-Werror) \
             -Iinclude -MMD -MP $(CXXFLAGS) $(CPPFLAGS)
# Only the DCMTK libraries the shim uses (DCMTK.md); pkg-config for the rest.
DCMTK_LIBS = -ldcmtls -ldcmnet -ldcmdata -loflog -lofstd
LIBS       = $(DCMTK_LIBS) $(shell pkg-config --libs sqlite3 libsystemd inih) \
             -lpthread -lm

# Modules, in the order data flows through them.
LIB_OBJS   = $(BUILD)/errmsg.o $(BUILD)/dcm.o $(BUILD)/raw.o $(BUILD)/scanopts.o \
             $(BUILD)/extract.o $(BUILD)/rdsr.o $(BUILD)/rule.o $(BUILD)/classify.o $(BUILD)/store.o \
             $(BUILD)/access.o $(BUILD)/retrieve.o \
             $(BUILD)/schema.o $(BUILD)/ingest.o $(BUILD)/server.o $(BUILD)/config.o \
             $(BUILD)/audit.o \
             $(BUILD)/compliance.o $(BUILD)/csv.o \
             $(BUILD)/log.o $(BUILD)/output.o
SQL_FILES  = $(sort $(wildcard sql/[0-9][0-9][0-9]-*.sql))
UNIT_TESTS = $(patsubst tests/unit/%.c,$(BUILD)/%,$(wildcard tests/unit/test_*.c))

# Debian packages: to build, and what the tests drive.
BUILD_PKGS = gcc g++ make pkg-config libdcmtk-dev libsqlite3-dev \
             libsystemd-dev libinih-dev libcmocka-dev
RUN_PKGS   = dcmtk sqlite3
TEST_PKGS  = dcmtk orthanc sqlite3 libgdcm-tools python3 clang libclang-rt-14-dev \
             chromium systemd openssl mandoc groff-base
SUDO       = $(if $(filter 0,$(shell id -u)),,sudo)

# `make run` development overrides of etc/hrauditd.ini
RUN_OVERRIDES = -o server.port=11112 -o server.aetitle=HRAUDIT \
                -o database.path=var/hraudit.db

all: $(BUILD)/hrauditd $(BUILD)/hraudit

$(BUILD)/.flags: FORCE | $(BUILD)
	@echo '$(CC) $(CXX) $(ALL_CFLAGS) $(ALL_CXXFLAGS)' | cmp -s - $@ || \
		echo '$(CC) $(CXX) $(ALL_CFLAGS) $(ALL_CXXFLAGS)' > $@

$(BUILD):
	@mkdir -p $@

$(BUILD)/%.o: src/%.c $(BUILD)/.flags
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags sqlite3 libsystemd inih) -c $< -o $@

$(BUILD)/%.o: src/%.cc $(BUILD)/.flags
	$(CXX) $(ALL_CXXFLAGS) -c $< -o $@

# The schema files become C strings: the binary carries its own schema.
$(BUILD)/schema.c: $(SQL_FILES) Makefile | $(BUILD)
	@{ echo '/* generated from sql/ by make: do not edit */'; \
	   echo '#include <stddef.h>'; \
	   echo 'extern const char *const store_schema[];'; \
	   echo 'extern const size_t store_schema_count;'; \
	   echo 'const char *const store_schema[] = {'; \
	   for f in $(SQL_FILES); do \
	     sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $$f; \
	     echo ','; \
	   done; \
	   echo '};'; \
	   echo 'const size_t store_schema_count = sizeof store_schema / sizeof store_schema[0];'; \
	 } > $@.tmp && mv $@.tmp $@

$(BUILD)/schema.o: $(BUILD)/schema.c $(BUILD)/.flags
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# Linked with the C++ driver because of the DCMTK shim.
$(BUILD)/hrauditd: $(BUILD)/hrauditd.o $(LIB_OBJS)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LIBS)

CLI_OBJS   = $(BUILD)/hraudit.o $(patsubst src/%.c,$(BUILD)/%.o,$(wildcard src/cmd_*.c src/cli_*.c))

$(BUILD)/hraudit: $(CLI_OBJS) $(LIB_OBJS)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/test_%.o: tests/unit/test_%.c $(BUILD)/.flags
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/test_%: $(BUILD)/test_%.o $(LIB_OBJS)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

# ---- fuzzing ------------------------------------------------------------------
# libFuzzer targets (clang), with ASan and UBSan, in their own build dir:
# fuzz_scanopts (a Scan Options value), fuzz_header (data set bytes through
# the parser and extraction) and fuzz_ingest (data set bytes through the
# shim's receive path, ingest and an in-memory store, with invariants on
# the row; tests/fuzz/fuzz_ingest.c).  `make fuzz` runs each, one process,
# for FUZZ_SECONDS; `make fuzz-smoke` (part of make test) for
# FUZZ_SMOKE_SECONDS, seeded from tests/fuzz/corpus and the test dumps.
# Any crash, leak, timeout or sanitizer report fails the target (the input
# is left in $(FUZZ_BUILD)/crash-*, leak-*, timeout-*); each run writes
# "fuzz_TARGET<TAB>bad_inputs<TAB>executions" lines to
# $(BUILD)/figures/fuzz.tsv (tests/figures.sh).

FUZZ_BUILD  = $(BUILD)/fuzz
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 7
FUZZ_SAN    = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS = -std=c11 -g -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link -Iinclude -MMD -MP
FUZZ_CXXFLAGS = -std=c++17 -g -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link -Iinclude -MMD -MP
FUZZ_OBJS   = $(patsubst $(BUILD)/%,$(FUZZ_BUILD)/%,$(LIB_OBJS))
FUZZERS     = $(FUZZ_BUILD)/fuzz_scanopts $(FUZZ_BUILD)/fuzz_header \
              $(FUZZ_BUILD)/fuzz_ingest
FUZZ_FIGURES = $(BUILD)/figures/fuzz.tsv

$(FUZZ_BUILD):
	@mkdir -p $@

$(FUZZ_BUILD)/%.o: src/%.c | $(FUZZ_BUILD)
	clang $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/%.o: src/%.cc | $(FUZZ_BUILD)
	clang++ $(FUZZ_CXXFLAGS) -c $< -o $@

$(FUZZ_BUILD)/schema.o: $(BUILD)/schema.c | $(FUZZ_BUILD)
	clang $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/fuzz_%.o: tests/fuzz/fuzz_%.c | $(FUZZ_BUILD)
	clang $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/fuzz_%.o $(FUZZ_OBJS)
	clang++ $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)

# Seeds for the header target: every test object's data set (explicit VR
# little endian, so the leading selector byte is 0).
$(FUZZ_BUILD)/corpus-header: tests/data/study.dump $(wildcard tests/data/series-*.dump) | $(FUZZ_BUILD)
	@rm -rf $@ $@.tmp && mkdir -p $@.tmp
	@for s in tests/data/series-*.dump; do \
	  n=$$(basename $$s .dump); \
	  cat tests/data/study.dump $$s > $@.tmp/$$n.txt && \
	  dump2dcm -q -F +te $@.tmp/$$n.txt $@.tmp/$$n.ds && \
	  { printf '\000'; cat $@.tmp/$$n.ds; } > $@.tmp/$$n && \
	  rm $@.tmp/$$n.txt $@.tmp/$$n.ds || exit 1; \
	done; mv $@.tmp $@

# Seeds for the ingest target: each test object, and a two-frame Enhanced
# CT (study.dump less its Image Orientation, bench/enhanced-ct.dump,
# tests/fuzz/enhanced-frames.dump), with selector bytes (fuzz_ingest.c)
# 0-3: the four transfer syntaxes in one piece; 4: explicit VR little
# endian byte by byte; 80: in pieces of 1000 and 3 bytes, header limit 300.
# The dose reports of tests/data/rdsr-*.sr (sr2dump.awk) with selector 0.
$(FUZZ_BUILD)/corpus-ingest: tests/data/study.dump $(wildcard tests/data/series-*.dump) \
                             bench/enhanced-ct.dump tests/fuzz/enhanced-frames.dump \
                             tests/data/sr2dump.awk $(wildcard tests/data/rdsr-*.sr) | $(FUZZ_BUILD)
	@rm -rf $@ $@.tmp && mkdir -p $@.tmp
	@for s in tests/data/series-*.dump enhanced; do \
	  n=$$(basename $$s .dump); \
	  if [ $$n = enhanced ]; then \
	    grep -v '^(0020,0037)' tests/data/study.dump && \
	    cat bench/enhanced-ct.dump tests/fuzz/enhanced-frames.dump; \
	  else cat tests/data/study.dump $$s; fi > $@.tmp/$$n.txt || exit 1; \
	  for t in 0:e 1:i 2:b 3:d 4:e 80:e; do \
	    sel=$${t%:*}; \
	    dump2dcm -q -F +t$${t#*:} $@.tmp/$$n.txt $@.tmp/$$n.ds && \
	    { printf "\\$$(printf %03o $$sel)"; cat $@.tmp/$$n.ds; } > $@.tmp/$$n-$$sel || exit 1; \
	  done; rm -f $@.tmp/$$n.txt $@.tmp/$$n.ds; \
	done; \
	for s in tests/data/rdsr-*.sr; do \
	  n=$$(basename $$s .sr); \
	  awk -f tests/data/sr2dump.awk $$s > $@.tmp/$$n.txt && \
	  dump2dcm -q -F +te $@.tmp/$$n.txt $@.tmp/$$n.ds && \
	  { printf '\000'; cat $@.tmp/$$n.ds; } > $@.tmp/$$n-0 && \
	  rm $@.tmp/$$n.txt $@.tmp/$$n.ds || exit 1; \
	done; mv $@.tmp $@

fuzzers: $(FUZZERS) $(FUZZ_BUILD)/corpus-header $(FUZZ_BUILD)/corpus-ingest

# run_fuzzer TARGET SECONDS SEEDS...: new inputs go to a scratch corpus;
# the executions (libFuzzer's "Done N runs", or the last "#N" line of a run
# that stopped on a finding) go to FUZZ_FIGURES as bad inputs tried.
define run_fuzzer
	@mkdir -p $(FUZZ_BUILD)/work-$(1) $(dir $(FUZZ_FIGURES))
	@echo "fuzz_$(1): $(2) s"; \
	$(FUZZ_BUILD)/fuzz_$(1) -max_total_time=$(2) -max_len=65536 -timeout=10 \
	  -artifact_prefix=$(FUZZ_BUILD)/ $(FUZZ_BUILD)/work-$(1) $(3) \
	  > $(FUZZ_BUILD)/fuzz_$(1).log 2>&1; \
	st=$$?; grep -E '^Done|ERROR|SUMMARY' $(FUZZ_BUILD)/fuzz_$(1).log; \
	n=$$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' $(FUZZ_BUILD)/fuzz_$(1).log); \
	[ -n "$$n" ] || n=$$(grep -o '^#[0-9]*' $(FUZZ_BUILD)/fuzz_$(1).log | tail -1 | tr -d '#'); \
	printf 'fuzz_%s\tbad_inputs\t%s\n' $(1) "$${n:-0}" >> $(FUZZ_FIGURES); \
	[ $$st -eq 0 ] || { tail -40 $(FUZZ_BUILD)/fuzz_$(1).log; exit $$st; }
endef

# Regression inputs of the ingest target (bugs it found), when there are any.
FUZZ_INGEST_SEEDS = $(FUZZ_BUILD)/corpus-ingest $(wildcard tests/fuzz/corpus/ingest)

fuzz-smoke: fuzzers
	@mkdir -p $(dir $(FUZZ_FIGURES)) && : > $(FUZZ_FIGURES)
	$(call run_fuzzer,scanopts,$(FUZZ_SMOKE_SECONDS),tests/fuzz/corpus/scanopts)
	$(call run_fuzzer,header,$(FUZZ_SMOKE_SECONDS),$(FUZZ_BUILD)/corpus-header)
	$(call run_fuzzer,ingest,$(FUZZ_SMOKE_SECONDS),$(FUZZ_INGEST_SEEDS))

fuzz: fuzzers
	@mkdir -p $(dir $(FUZZ_FIGURES)) && : > $(FUZZ_FIGURES)
	$(call run_fuzzer,scanopts,$(FUZZ_SECONDS),tests/fuzz/corpus/scanopts)
	$(call run_fuzzer,header,$(FUZZ_SECONDS),$(FUZZ_BUILD)/corpus-header)
	$(call run_fuzzer,ingest,$(FUZZ_SECONDS),$(FUZZ_INGEST_SEEDS))

# ---- set-up -----------------------------------------------------------------

# Installs the Debian packages that are missing (apt-get update first: on a
# fresh machine the package lists are empty).
define install_missing
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || \
	    missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $$missing; \
	fi
endef

deps:
	$(call install_missing,$(BUILD_PKGS) $(RUN_PKGS))

test-deps:
	$(call install_missing,$(BUILD_PKGS) $(TEST_PKGS))

run: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p var
	exec $(BUILD)/hrauditd -d -f etc/hrauditd.ini $(RUN_OVERRIDES)

demo: $(BUILD)/hraudit
	HRAUDIT=$(BUILD)/hraudit DB=var/hraudit.db PORT=11112 bash tests/data/demo.sh

test: test-deps
	@$(MAKE) --no-print-directory WERROR=1 all $(UNIT_TESTS)
	@$(MAKE) --no-print-directory WERROR=1 check

# The tests themselves, on what is built.
check: unit integration fuzz-smoke

unit: $(UNIT_TESTS)
	@failed=0; for t in $(UNIT_TESTS); do \
	  echo "== $$t"; $$t || failed=$$((failed + 1)); \
	done; \
	echo "unit test programs failed: $$failed"; [ $$failed -eq 0 ]

# The daemon built with a deliberately wrong parser, for the reparse test.
$(BUILD)/wrong/hrauditd: FORCE
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/wrong \
	  CPPFLAGS='$(CPPFLAGS) -DHRAUDIT_TEST_WRONG_PARSER' $(BUILD)/wrong/hrauditd-real
	@cp $(BUILD)/wrong/hrauditd-real $@

$(BUILD)/hrauditd-real: $(BUILD)/hrauditd.o $(LIB_OBJS)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LIBS)

# The reliability figures of the run (tests/RELIABILITY.md) go to
# $(BUILD)/figures/integration.tsv.
integration: all $(BUILD)/wrong/hrauditd
	@mkdir -p $(BUILD)/figures && : > $(BUILD)/figures/integration.tsv
	HRAUDITD=$(BUILD)/hrauditd HRAUDIT=$(BUILD)/hraudit \
	  HRAUDITD_WRONG=$(BUILD)/wrong/hrauditd \
	  FIGURES=$(CURDIR)/$(BUILD)/figures/integration.tsv bash tests/integration/run.sh

# ---- benchmark ----------------------------------------------------------------
# `make bench`: an optimised hrauditd in its own build dir, measured beside
# storescp and Orthanc (bench/README.md); workloads cached in build/bench.
# Exits 0 when a target is missed: it is a measurement.
BENCH_BUILD = $(BUILD)/bench
BENCH_PKGS  = dcmtk orthanc sqlite3 python3 curl procps

bench:
	$(call install_missing,$(BUILD_PKGS) $(BENCH_PKGS))
	@$(MAKE) --no-print-directory BUILD=$(BENCH_BUILD) CFLAGS='-O2 -g -DNDEBUG' \
	  CXXFLAGS='-O2 -g -DNDEBUG' $(BENCH_BUILD)/hrauditd
	HRAUDITD=$(BENCH_BUILD)/hrauditd BENCH_CACHE=$(BENCH_BUILD)/workloads \
	  bash bench/run.sh

.PHONY: bench

# ---- soak ---------------------------------------------------------------------
# `make soak`: the long checks, each run even when one before failed, and
# failing if any failed:
#  1. tests/soak/soak.sh: 20 000 instances over 8 associations at once into
#     the normal build, then 400 short associations; VmRSS, threads and
#     descriptors sampled; nothing lost, no growth (figures in
#     $(BUILD)/figures/soak.tsv; the workload cached in $(BUILD)/soak);
#  2. the integration tests against hrauditd, hraudit and the wrong-parser
#     daemon built with ASan and UBSan in $(SAN_BUILD);
#  3. tests/soak/valgrind.sh: integration tests with the normal hrauditd
#     under valgrind's memcheck ($(BUILD)/valgrind holds the wrapper, logs).
SAN_BUILD  = $(BUILD)/asan
SAN_FLAGS  = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=undefined
# DCMTK, OpenSSL and SQLite are not instrumented.  Leaks show at exit; their
# stacks need the slow unwinder to pass through those libraries, and three
# are DCMTK's own (tests/soak/lsan.supp).  Slower daemons: longer timeouts.
SAN_ENV    = ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0:detect_stack_use_after_return=1 \
             LSAN_OPTIONS=suppressions=$(CURDIR)/tests/soak/lsan.supp \
             UBSAN_OPTIONS=print_stacktrace=1 \
             DAEMON_START_TIMEOUT_S=30 DAEMON_STOP_TIMEOUT_S=30
SOAK_PKGS  = dcmtk sqlite3 python3 valgrind libgdcm-tools

soak:
	$(call install_missing,$(BUILD_PKGS) $(SOAK_PKGS))
	@$(MAKE) --no-print-directory all
	@mkdir -p $(BUILD)/figures && : > $(BUILD)/figures/soak.tsv
	@failed=; start=$$(date +%s); \
	echo "== 1/3 soak: 20 000 instances over 8 associations"; \
	HRAUDITD=$(BUILD)/hrauditd SOAK_CACHE=$(BUILD)/soak/workload \
	  FIGURES=$(CURDIR)/$(BUILD)/figures/soak.tsv bash tests/soak/soak.sh || \
	  failed="$$failed soak"; \
	echo "== 2/3 integration tests under ASan and UBSan ($(SAN_BUILD))"; \
	$(SAN_ENV) $(MAKE) --no-print-directory BUILD=$(SAN_BUILD) CFLAGS='$(SAN_FLAGS)' \
	  CXXFLAGS='$(SAN_FLAGS)' LDFLAGS='-fsanitize=address,undefined' integration || \
	  failed="$$failed asan"; \
	echo "== 3/3 integration tests with hrauditd under valgrind"; \
	bash tests/soak/valgrind.sh $(BUILD) || failed="$$failed valgrind"; \
	echo "make soak: $$(($$(date +%s) - start)) s; $${failed:+failed:}$${failed:-all passed}"; \
	[ -z "$$failed" ]

.PHONY: soak

# ---- install ------------------------------------------------------------------

# What install puts in $(DATADIR): the schema (for reference: the binaries
# carry it) and the sample queries with their README.
QUERY_FILES = $(sort $(wildcard sql/queries/*.sql)) sql/queries/README.md
CONF       = $(SYSCONFDIR)/hraudit/hrauditd.ini
# Examples for other systems, in $(DOCDIR)/examples: the PACS forward rule.
EXAMPLE_FILES = etc/orthanc-forward.lua
# The units run the installed binaries on the installed configuration.
UNIT_PATHS = -e '/^Exec[A-Za-z]*=/s|/usr/local/sbin/hrauditd|$(SBINDIR)/hrauditd|' \
             -e '/^Exec[A-Za-z]*=/s|/usr/local/bin/hraudit|$(BINDIR)/hraudit|' \
             -e '/^Exec[A-Za-z]*=/s|/etc/hraudit/|$(SYSCONFDIR)/hraudit/|'

# The configuration is installed once: an existing one, maybe edited, is
# kept and the new sample goes beside it as hrauditd.ini.dist.  It is
# root's, readable by the hraudit group (the daemon), as is its folder,
# which also holds the TLS key.  On the running system (no DESTDIR, as
# root) the user and /var/lib/hraudit are created at once, as a package's
# postinst would; a DESTDIR install leaves that to the package.
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	  $(DESTDIR)$(DATADIR)/sql/queries $(DESTDIR)$(UNITDIR) \
	  $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(DOCDIR)/examples
	install -d -m 750 $(DESTDIR)$(SYSCONFDIR)/hraudit
	install -m 755 $(BUILD)/hrauditd $(DESTDIR)$(SBINDIR)/hrauditd
	install -m 755 $(BUILD)/hraudit $(DESTDIR)$(BINDIR)/hraudit
	install -m 644 man/hraudit.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 man/hrauditd.ini.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 644 man/hrauditd.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 644 $(SQL_FILES) $(DESTDIR)$(DATADIR)/sql/
	install -m 644 $(QUERY_FILES) $(DESTDIR)$(DATADIR)/sql/queries/
	install -m 644 $(EXAMPLE_FILES) $(DESTDIR)$(DOCDIR)/examples/
	sed $(UNIT_PATHS) systemd/hrauditd.service > $(DESTDIR)$(UNITDIR)/hrauditd.service
	sed $(UNIT_PATHS) systemd/hraudit-export.service \
	  > $(DESTDIR)$(UNITDIR)/hraudit-export.service
	chmod 644 $(DESTDIR)$(UNITDIR)/hrauditd.service \
	  $(DESTDIR)$(UNITDIR)/hraudit-export.service
	install -m 644 systemd/hraudit-export.timer $(DESTDIR)$(UNITDIR)/
	install -m 644 systemd/hraudit.sysusers $(DESTDIR)$(SYSUSERSDIR)/hraudit.conf
	install -m 644 systemd/hraudit.tmpfiles $(DESTDIR)$(TMPFILESDIR)/hraudit.conf
	@if [ -e $(DESTDIR)$(CONF) ]; then \
	  echo "install -m 640 etc/hrauditd.ini $(DESTDIR)$(CONF).dist"; \
	  install -m 640 etc/hrauditd.ini $(DESTDIR)$(CONF).dist && \
	  echo "kept $(DESTDIR)$(CONF); the new sample is $(DESTDIR)$(CONF).dist"; \
	else \
	  echo "install -m 640 etc/hrauditd.ini $(DESTDIR)$(CONF)"; \
	  install -m 640 etc/hrauditd.ini $(DESTDIR)$(CONF); \
	fi
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
	  set -x; \
	  systemd-sysusers $(SYSUSERSDIR)/hraudit.conf && \
	  systemd-tmpfiles --create $(TMPFILESDIR)/hraudit.conf && \
	  chgrp hraudit $(SYSCONFDIR)/hraudit $(CONF) && \
	  { [ ! -e $(CONF).dist ] || chgrp hraudit $(CONF).dist; }; \
	else \
	  echo "then, on the target: systemd-sysusers; systemd-tmpfiles --create;" \
	    "chgrp hraudit $(SYSCONFDIR)/hraudit $(CONF)"; \
	fi

# Removes what install installed, except the configuration (perhaps
# edited) and the hraudit user with its /var/lib/hraudit (the database).
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/hrauditd $(DESTDIR)$(BINDIR)/hraudit \
	  $(DESTDIR)$(MANDIR)/man1/hraudit.1 $(DESTDIR)$(MANDIR)/man5/hrauditd.ini.5 \
	  $(DESTDIR)$(MANDIR)/man8/hrauditd.8
	rm -f $(addprefix $(DESTDIR)$(DATADIR)/sql/,$(notdir $(SQL_FILES))) \
	  $(addprefix $(DESTDIR)$(DATADIR)/sql/queries/,$(notdir $(QUERY_FILES)))
	@for d in $(DESTDIR)$(DATADIR)/sql/queries $(DESTDIR)$(DATADIR)/sql \
	  $(DESTDIR)$(DATADIR); do \
	  [ ! -d $$d ] || rmdir $$d 2>/dev/null || echo "kept $$d: not empty"; \
	done
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/examples/,$(notdir $(EXAMPLE_FILES)))
	@for d in $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR); do \
	  [ ! -d $$d ] || rmdir $$d 2>/dev/null || echo "kept $$d: not empty"; \
	done
	rm -f $(DESTDIR)$(UNITDIR)/hrauditd.service \
	  $(DESTDIR)$(UNITDIR)/hraudit-export.service \
	  $(DESTDIR)$(UNITDIR)/hraudit-export.timer \
	  $(DESTDIR)$(SYSUSERSDIR)/hraudit.conf $(DESTDIR)$(TMPFILESDIR)/hraudit.conf \
	  $(DESTDIR)$(CONF).dist
	@echo "kept $(DESTDIR)$(CONF), the hraudit user and /var/lib/hraudit"

clean:
	rm -rf $(BUILD)

FORCE:

.PHONY: all run demo test check unit integration deps test-deps install \
        fuzz fuzz-smoke fuzzers \
        uninstall clean FORCE
.DELETE_ON_ERROR:
.SECONDARY:

-include $(wildcard $(BUILD)/*.d) $(wildcard $(BUILD)/fuzz/*.d)
