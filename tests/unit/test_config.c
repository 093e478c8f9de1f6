/*
 * test_config.c - unit tests of hrauditd.ini loading (src/config.c):
 * defaults, a good file, every kind of error with its file:line, the
 * [scan_type] rules, and the -o overrides.  Each test writes its file
 * with mkstemp(3) and removes it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* mkstemp, fdopen */
#endif

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"

struct fixture {
	char path[256];
	struct config cfg;
	char *err;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *dir = getenv("TMPDIR");
	int fd;

	if (!f)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/test_config.XXXXXX",
	         dir && *dir ? dir : "/tmp");
	fd = mkstemp(f->path);
	if (fd < 0) {
		free(f);
		return -1;
	}
	close(fd);
	config_defaults(&f->cfg);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unlink(f->path);
	config_release(&f->cfg);
	free(f->err);
	free(f);
	return 0;
}

static void write_file(struct fixture *f, const char *text)
{
	FILE *fp = fopen(f->path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* Loads `text` from the fixture's file into f->cfg. */
static int load(struct fixture *f, const char *text)
{
	write_file(f, text);
	config_release(&f->cfg);
	free(f->err);
	f->err = NULL;
	return config_load(f->path, &f->cfg, &f->err);
}

/* Expects f->err to be "PATH:LINE: message". */
static void assert_error_at(const struct fixture *f, unsigned line,
                            const char *message)
{
	char expected[1024];

	snprintf(expected, sizeof(expected), "%s:%u: %s", f->path, line,
	         message);
	assert_non_null(f->err);
	assert_string_equal(f->err, expected);
}

static void assert_default_filter(const struct config *cfg)
{
	assert_int_equal(cfg->filter.n, 11);
	assert_non_null(cfg->filter.patterns);
	assert_string_equal(cfg->filter.patterns[0], "F1_CorCTA*");
	assert_string_equal(cfg->filter.patterns[8], "CTA Coronary*");
	assert_string_equal(cfg->filter.patterns[10], "Calcium Scoring*");
}

/* The seed site's scan-selection table (DOMAIN.md), as rules. */
static void assert_default_compliance(const struct config *cfg)
{
	const struct compliance_rules *rules = &cfg->compliance.rules;

	assert_int_equal(cfg->compliance.hrv_high_bpm, 10);
	assert_int_equal(rules->n, 5);
	assert_string_equal(rules->rules[0].text,
	                    "flash hr<60 hrv=low calcium=0");
	assert_string_equal(rules->rules[1].text,
	                    "seq_diastolic hr=60-65 hrv=low calcium=0-100");
	assert_string_equal(rules->rules[2].text,
	                    "seq_systolic hr>65 hrv=high calcium=0-100");
	assert_string_equal(rules->rules[3].text,
	                    "uhr_spiral_retro hr>60 hrv=high calcium>100 "
	                    "model~\"*NAEOTOM Alpha*\"");
	assert_string_equal(rules->rules[4].code, "uhr_seq_diastolic");
	assert_string_equal(rules->rules[4].conds[3].pattern, "*NAEOTOM Alpha*");
}

static void assert_defaults(const struct config *cfg)
{
	assert_string_equal(cfg->server.aetitle, "HRAUDIT");
	assert_int_equal(cfg->server.port, 104);
	assert_string_equal(cfg->server.bind, "0.0.0.0");
	assert_true(cfg->server.check_called_aetitle);
	assert_int_equal(cfg->server.max_associations, 16);
	assert_int_equal(cfg->server.max_pdu_bytes, 131072);
	assert_int_equal(cfg->server.acse_timeout_s, 30);
	assert_int_equal(cfg->server.dimse_timeout_s, 60);
	assert_int_equal(cfg->server.max_header_bytes, 8388608);
	assert_string_equal(cfg->database.path, "/var/lib/hraudit/hraudit.db");
	assert_int_equal(cfg->database.busy_timeout_ms, 5000);
	assert_true(cfg->database.synchronous_full);
	assert_int_equal(cfg->log.level, LOG_INFO);
	assert_default_filter(cfg);
	assert_int_equal(cfg->scan_type_rules.n, 0);
	assert_null(cfg->scan_type_rules.rules);
	assert_default_compliance(cfg);
}

static void test_config__defaults(void **state)
{
	struct config cfg;

	(void)state;
	/* Safe on an uninitialised struct: nothing in it is freed. */
	memset(&cfg, 0xa5, sizeof(cfg));
	config_defaults(&cfg);
	assert_defaults(&cfg);
	config_release(&cfg);
	assert_int_equal(cfg.filter.n, 0);
	assert_null(cfg.filter.patterns);
	config_release(&cfg);   /* twice is harmless */
	config_release(NULL);
}

static void test_config__loads_a_good_file(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f,
		"; hrauditd test configuration\n"
		"# both comment styles\n"
		"\n"
		"[server]\n"
		"aetitle =   CARDIO_AUDIT  \n"
		"port = 11112\n"
		"bind = 127.0.0.1\n"
		"check_called_aetitle = no\n"
		"max_associations = 4\n"
		"max_pdu = 16384\n"
		"acse_timeout = 5\n"
		"dimse_timeout = 3600\n"
		"max_header_bytes = 65536\n"
		"\n"
		"[database]\n"
		"path = /tmp/hraudit test.db\n"
		"busy_timeout = 0\n"
		"synchronous = normal\n"
		"\n"
		"[log]\n"
		"level = debug\n"), 0);
	assert_null(f->err);
	assert_string_equal(f->cfg.server.aetitle, "CARDIO_AUDIT");
	assert_int_equal(f->cfg.server.port, 11112);
	assert_string_equal(f->cfg.server.bind, "127.0.0.1");
	assert_false(f->cfg.server.check_called_aetitle);
	assert_int_equal(f->cfg.server.max_associations, 4);
	assert_int_equal(f->cfg.server.max_pdu_bytes, 16384);
	assert_int_equal(f->cfg.server.acse_timeout_s, 5);
	assert_int_equal(f->cfg.server.dimse_timeout_s, 3600);
	assert_int_equal(f->cfg.server.max_header_bytes, 65536);
	assert_string_equal(f->cfg.database.path, "/tmp/hraudit test.db");
	assert_int_equal(f->cfg.database.busy_timeout_ms, 0);
	assert_false(f->cfg.database.synchronous_full);
	assert_int_equal(f->cfg.log.level, LOG_DEBUG);
	/* No description line: the default list stays. */
	assert_default_filter(&f->cfg);
}

static void test_config__empty_file_gives_defaults(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, ""), 0);
	assert_defaults(&f->cfg);
	assert_int_equal(load(f, "[server]\n[log]\n"), 0);
	assert_defaults(&f->cfg);
}

static void test_config__leaves_errmsg_alone_on_success(void **state)
{
	struct fixture *f = *state;
	char *err = (char *)"untouched";

	write_file(f, "[server]\nport = 1\n");
	config_release(&f->cfg);
	assert_int_equal(config_load(f->path, &f->cfg, &err), 0);
	assert_string_equal(err, "untouched");
	assert_int_equal(f->cfg.server.port, 1);
}

static void test_config__reports_misspelt_key_at_its_line(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f,
		"# comment\n"
		"[server]\n"
		"port = 11112\n"
		"\n"
		"; another comment\n"
		"aetitel = AUDIT\n"
		"bind = 127.0.0.1\n"), -EINVAL);
	assert_error_at(f, 6, "unknown key 'aetitel' in section [server]");
	/* On error the struct holds the defaults only, not the good lines. */
	assert_defaults(&f->cfg);
}

static void test_config__counts_lines_across_long_and_crlf_lines(void **state)
{
	struct fixture *f = *state;
	char *text, *p;
	size_t i;

	/* A 4095-byte path (the longest allowed) on line 3, CRLF endings. */
	text = malloc(8192);
	assert_non_null(text);
	p = text + sprintf(text, "[database]\r\n\r\npath = /");
	for (i = 1; i < 4095; i++)
		*p++ = 'x';
	p += sprintf(p, "\r\n  [server]\r\n\tport = 9\r\n  prot = 1\r\n");
	assert_int_equal(load(f, text), -EINVAL);
	assert_error_at(f, 6, "unknown key 'prot' in section [server]");

	/* Without the bad line it loads; indentation is not continuation. */
	*(p - strlen("  prot = 1\r\n")) = '\0';
	assert_int_equal(load(f, text), 0);
	assert_int_equal(strlen(f->cfg.database.path), 4095);
	assert_int_equal(f->cfg.server.port, 9);
	free(text);
}

static void test_config__rejects_too_long_lines(void **state)
{
	struct fixture *f = *state;
	char *text, *p;

	text = malloc(20000);
	assert_non_null(text);
	p = text + sprintf(text, "[database]\n# note\npath = /");
	memset(p, 'x', 16000);
	strcpy(p + 16000, "\n[server]\nport = 1\n");
	assert_int_equal(load(f, text), -EINVAL);
	assert_error_at(f, 3, "line is longer than 8190 bytes");

	/* One byte too many for the path field: a value error, not a crash. */
	p[4095] = '\n';
	p[4096] = '\0';
	assert_int_equal(load(f, text), -EINVAL);
	assert_non_null(f->err);
	assert_non_null(strstr(f->err, ":3: path: '/xxx"));
	assert_non_null(strstr(f->err, "' is longer than 4095 characters"));
	free(text);
}

static void test_config__rejects_out_of_range_values(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f,
		"[server]\n"
		"aetitle = A\n"
		"\n"
		"\n"
		"port = 70000\n"), -EINVAL);
	assert_error_at(f, 5, "port: '70000' is out of range 0..65535");

	assert_int_equal(load(f, "[tls]\nport = 65536\n"), -EINVAL);
	assert_error_at(f, 2, "port: '65536' is out of range 0..65535");

	assert_int_equal(load(f, "[server]\nmax_pdu = 4095\n"), -EINVAL);
	assert_error_at(f, 2, "max_pdu: '4095' is out of range 4096..131072");

	assert_int_equal(load(f, "[database]\nbusy_timeout = "
	                         "99999999999999999999999\n"), -EINVAL);
	assert_error_at(f, 2, "busy_timeout: '99999999999999999999999' is "
	                      "out of range 0..600000");

	/* The bounds themselves are accepted. */
	assert_int_equal(load(f, "[server]\nport = 65535\nmax_pdu = 4096\n"
	                         "max_associations = 1024\n"
	                         "max_header_bytes = 268435456\n"), 0);
	assert_int_equal(f->cfg.server.port, 65535);
	assert_int_equal(f->cfg.server.max_header_bytes, 268435456);
}

static void test_config__rejects_numbers_with_junk(void **state)
{
	static const char *const bad[] = {
		"12x", "-1", "+5", "0x10", "1e3", "1 2", "1.5", "port",
	};
	struct fixture *f = *state;
	char text[128], msg[128];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[server]\nport = %s\n", bad[i]);
		snprintf(msg, sizeof(msg), "port: '%s' is not a number", bad[i]);
		assert_int_equal(load(f, text), -EINVAL);
		assert_error_at(f, 2, msg);
		assert_int_equal(f->cfg.server.port, 104);
	}
	assert_int_equal(load(f, "[server]\nport =\n"), -EINVAL);
	assert_error_at(f, 2, "port: missing value");
}

static void test_config__rejects_bad_bool(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[server]\ncheck_called_aetitle = maybe\n"),
	                 -EINVAL);
	assert_error_at(f, 2, "check_called_aetitle: 'maybe' is not a boolean "
	                      "(yes, no, true, false, 1, 0)");

	assert_int_equal(load(f, "[server]\ncheck_called_aetitle = FALSE\n"),
	                 0);
	assert_false(f->cfg.server.check_called_aetitle);
	assert_int_equal(load(f, "[server]\ncheck_called_aetitle = 0\n"), 0);
	assert_false(f->cfg.server.check_called_aetitle);
	assert_int_equal(load(f, "[server]\ncheck_called_aetitle = true\n"), 0);
	assert_true(f->cfg.server.check_called_aetitle);
}

static void test_config__rejects_bad_enums(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[database]\nsynchronous = off\n"), -EINVAL);
	assert_error_at(f, 2, "synchronous: 'off' is not one of full, normal");
	assert_int_equal(load(f, "[log]\nlevel = verbose\n"), -EINVAL);
	assert_error_at(f, 2, "level: 'verbose' is not one of error, warning, "
	                      "info, debug");

	assert_int_equal(load(f, "[log]\nlevel = error\n"), 0);
	assert_int_equal(f->cfg.log.level, LOG_ERR);
	assert_int_equal(load(f, "[log]\nlevel = warning\n"), 0);
	assert_int_equal(f->cfg.log.level, LOG_WARNING);
}

static void test_config__checks_aetitle_and_bind(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[server]\naetitle = ABCDEFGHIJKLMNOPQ\n"),
	                 -EINVAL);
	assert_error_at(f, 2, "aetitle: 'ABCDEFGHIJKLMNOPQ' is longer than "
	                      "16 characters");
	assert_int_equal(load(f, "[server]\naetitle = A\\B\n"), -EINVAL);
	assert_error_at(f, 2, "aetitle: 'A\\B' must be printable ASCII "
	                      "without '\\'");
	assert_int_equal(load(f, "[server]\naetitle = \xc3\xa9t\xc3\xa9\n"),
	                 -EINVAL);
	assert_int_equal(load(f, "[server]\naetitle = ABCDEFGHIJKLMNOP\n"), 0);
	assert_string_equal(f->cfg.server.aetitle, "ABCDEFGHIJKLMNOP");
	/* Inner spaces are kept; outer ones are not significant. */
	assert_int_equal(load(f, "[server]\naetitle =  MY AE \n"), 0);
	assert_string_equal(f->cfg.server.aetitle, "MY AE");

	assert_int_equal(load(f, "[server]\nbind = 10.0.0.256\n"), -EINVAL);
	assert_error_at(f, 2, "bind: '10.0.0.256' is not an IPv4 address "
	                      "(a.b.c.d)");
	assert_int_equal(load(f, "[server]\nbind = ::1\n"), -EINVAL);
	assert_int_equal(load(f, "[server]\nbind = localhost\n"), -EINVAL);
	assert_int_equal(load(f, "[server]\nbind = 192.168.1.20\n"), 0);
	assert_string_equal(f->cfg.server.bind, "192.168.1.20");
}

static void test_config__rejects_unknown_section(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[server]\nport = 1\n[servre]\nport = 2\n"),
	                 -EINVAL);
	assert_error_at(f, 3, "unknown section [servre]");
	/* Even when it holds no key. */
	assert_int_equal(load(f, "[server]\n\n[extra]\n"), -EINVAL);
	assert_error_at(f, 3, "unknown section [extra]");
	assert_defaults(&f->cfg);
}

static void test_config__rejects_keys_outside_sections(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "\nport = 1\n[server]\n"), -EINVAL);
	assert_error_at(f, 2, "key 'port' is outside any [section]");
}

static void test_config__rejects_duplicate_keys(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[server]\nport = 1\n\n[log]\nlevel = info\n"
	                         "[server]\nport = 2\n"), -EINVAL);
	assert_error_at(f, 7, "duplicate key 'port' in section [server] "
	                      "(first set on line 2)");
}

static void test_config__reports_syntax_errors_at_their_line(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[server]\nport = 1\njust some words\n"
	                         "aetitel = X\n"), -EINVAL);
	assert_error_at(f, 3, "syntax error: expected [section] or key = value");
	assert_int_equal(load(f, "[server\nport = 1\n"), -EINVAL);
	assert_error_at(f, 1, "syntax error: expected [section] or key = value");
}

static void test_config__description_lines_replace_defaults(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f,
		"[filter]\n"
		"description = CorCTA*\n"
		"description = *Calcium*\n"
		"[server]\n"
		"port = 2000\n"
		"[filter]\n"
		"description =   Gated Body  *\n"), 0);
	assert_int_equal(f->cfg.filter.n, 3);
	assert_string_equal(f->cfg.filter.patterns[0], "CorCTA*");
	assert_string_equal(f->cfg.filter.patterns[1], "*Calcium*");
	assert_string_equal(f->cfg.filter.patterns[2], "Gated Body  *");

	assert_int_equal(load(f, "[filter]\ndescription =\n"), -EINVAL);
	assert_error_at(f, 2, "description: missing value");
	assert_default_filter(&f->cfg);

	assert_int_equal(load(f, "[filter]\ndescriptions = x\n"), -EINVAL);
	assert_error_at(f, 2, "unknown key 'descriptions' in section [filter]");
}

static void test_config__reports_missing_file(void **state)
{
	struct fixture *f = *state;
	char path[300], expected[400];
	int r;

	snprintf(path, sizeof(path), "%s.missing", f->path);
	config_release(&f->cfg);
	r = config_load(path, &f->cfg, &f->err);
	assert_int_equal(r, -ENOENT);
	snprintf(expected, sizeof(expected),
	         "cannot open '%s': No such file or directory", path);
	assert_string_equal(f->err, expected);
	assert_defaults(&f->cfg);
}

static void test_config__overrides_keys(void **state)
{
	struct fixture *f = *state;
	char *err = NULL;

	assert_int_equal(config_override(&f->cfg, "server.port=4242", &err), 0);
	assert_null(err);
	assert_int_equal(f->cfg.server.port, 4242);
	assert_int_equal(config_override(&f->cfg, " server.aetitle = X Y ",
	                                 &err), 0);
	assert_string_equal(f->cfg.server.aetitle, "X Y");
	assert_int_equal(config_override(&f->cfg, "log.level=debug", &err), 0);
	assert_int_equal(f->cfg.log.level, LOG_DEBUG);
	assert_int_equal(config_override(&f->cfg, "database.path=/a=b.db",
	                                 &err), 0);
	assert_string_equal(f->cfg.database.path, "/a=b.db");
	/* Later overrides win. */
	assert_int_equal(config_override(&f->cfg, "server.port=5", &err), 0);
	assert_int_equal(f->cfg.server.port, 5);
}

static void test_config__rejects_bad_overrides(void **state)
{
	static const struct {
		const char *assignment;
		const char *message;
	} bad[] = {
		{ "server.port=70000",
		  "-o server.port=70000: port: '70000' is out of range 0..65535" },
		{ "server.port=-1",
		  "-o server.port=-1: port: '-1' is not a number" },
		{ "server.aetitel=X",
		  "-o server.aetitel=X: unknown key 'aetitel' in section [server]" },
		{ "serve.port=1",
		  "-o serve.port=1: unknown section [serve]" },
		{ "port=1", "-o port=1: expected section.key=value" },
		{ "server.port", "-o server.port: expected section.key=value" },
		{ "", "-o : expected section.key=value" },
		{ "server.check_called_aetitle=si",
		  "-o server.check_called_aetitle=si: check_called_aetitle: 'si' "
		  "is not a boolean (yes, no, true, false, 1, 0)" },
	};
	struct fixture *f = *state;
	size_t i;
	char *err;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		assert_int_equal(config_override(&f->cfg, bad[i].assignment,
		                                 &err), -EINVAL);
		assert_non_null(err);
		assert_string_equal(err, bad[i].message);
		free(err);
	}
	/* Nothing changed; a NULL errmsg is allowed. */
	assert_defaults(&f->cfg);
	assert_int_equal(config_override(&f->cfg, "server.port=65536", NULL),
	                 -EINVAL);
	assert_int_equal(f->cfg.server.port, 104);
}

static void test_config__override_of_description_replaces_defaults(void **state)
{
	struct fixture *f = *state;
	char *err = NULL;

	assert_int_equal(config_override(&f->cfg, "filter.description=A*",
	                                 &err), 0);
	assert_int_equal(f->cfg.filter.n, 1);
	assert_string_equal(f->cfg.filter.patterns[0], "A*");
	assert_int_equal(config_override(&f->cfg, "filter.description=B*",
	                                 &err), 0);
	assert_int_equal(f->cfg.filter.n, 2);
	assert_string_equal(f->cfg.filter.patterns[1], "B*");
	assert_null(err);

	/* Over a file's own list, overrides add to it. */
	assert_int_equal(load(f, "[filter]\ndescription = F*\n"), 0);
	assert_int_equal(config_override(&f->cfg, "filter.description=G*",
	                                 &err), 0);
	assert_int_equal(f->cfg.filter.n, 2);
	assert_string_equal(f->cfg.filter.patterns[0], "F*");
	assert_string_equal(f->cfg.filter.patterns[1], "G*");
}

static void test_config__loads_scan_type_rules_in_file_order(void **state)
{
	struct fixture *f = *state;
	const struct classify_rules *rules = &f->cfg.scan_type_rules;

	assert_int_equal(load(f,
		"[scan_type]\n"
		"# the seed site's names\n"
		"rule = seq_systolic description~*SysAdSeq*\n"
		"rule = seq_diastolic  description~*CorAdSeq*  \n"
		"[server]\n"
		"port = 2000\n"
		"[scan_type]\n"
		"rule = flash description~\"CTA Coronary*\" pitch>=1.5\n"), 0);
	assert_null(f->err);
	assert_int_equal(rules->n, 3);
	assert_string_equal(rules->rules[0].code, "seq_systolic");
	assert_string_equal(rules->rules[1].text,
	                    "seq_diastolic  description~*CorAdSeq*");
	assert_string_equal(rules->rules[2].code, "flash");
	assert_int_equal(rules->rules[2].nconds, 2);
	assert_string_equal(rules->rules[2].conds[0].pattern, "CTA Coronary*");
	assert_int_equal(f->cfg.server.port, 2000);

	/* An empty section is allowed and adds nothing. */
	assert_int_equal(load(f, "[scan_type]\n"), 0);
	assert_defaults(&f->cfg);
}

static void test_config__reports_bad_scan_type_rule_at_its_line(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f,
		"[scan_type]\n"
		"rule = flash description~F1_*\n"
		"\n"
		"rule = flash descripton~F1_*\n"), -EINVAL);
	assert_error_at(f, 4, "rule: unknown field 'descripton' in "
	                      "'descripton~F1_*' (one of description, protocol, "
	                      "study_description, model, token, phase, pitch)");
	/* On error no rule is kept, not even the good first one. */
	assert_defaults(&f->cfg);

	assert_int_equal(load(f, "[scan_type]\nrule = systolic phase<50\n"),
	                 -EINVAL);
	assert_error_at(f, 2, "rule: unknown scan type 'systolic' (one of "
	                      "flash, seq_diastolic, seq_systolic, spiral_retro, "
	                      "uhr_spiral_retro, uhr_seq_diastolic)");
	assert_int_equal(load(f, "[scan_type]\nrule = flash pitch>=1,5\n"),
	                 -EINVAL);
	assert_error_at(f, 2, "rule: '1,5' is not a number (digits, optionally "
	                      "'.' and digits) in 'pitch>=1,5'");
	assert_int_equal(load(f, "[scan_type]\nrule =\n"), -EINVAL);
	assert_error_at(f, 2, "rule: missing value");
	assert_int_equal(load(f, "[scan_type]\nrules = flash pitch>2\n"),
	                 -EINVAL);
	assert_error_at(f, 2, "unknown key 'rules' in section [scan_type]");
}

static void test_config__override_appends_scan_type_rule(void **state)
{
	struct fixture *f = *state;
	const struct classify_rules *rules = &f->cfg.scan_type_rules;
	char *err = NULL;

	assert_int_equal(config_override(&f->cfg,
	                                 "scan_type.rule=flash pitch>=3", &err),
	                 0);
	assert_null(err);
	assert_int_equal(rules->n, 1);

	/* After the rules of a file. */
	assert_int_equal(load(f, "[scan_type]\nrule = seq_systolic phase<50\n"),
	                 0);
	assert_int_equal(config_override(&f->cfg,
	                 " scan_type.rule = seq_diastolic description~\"A B*\"",
	                 &err), 0);
	assert_int_equal(rules->n, 2);
	assert_string_equal(rules->rules[0].code, "seq_systolic");
	assert_string_equal(rules->rules[1].text,
	                    "seq_diastolic description~\"A B*\"");

	assert_int_equal(config_override(&f->cfg, "scan_type.rule=flash x~1",
	                                 &err), -EINVAL);
	assert_string_equal(err, "-o scan_type.rule=flash x~1: rule: unknown "
	                         "field 'x' in 'x~1' (one of description, "
	                         "protocol, study_description, model, token, "
	                         "phase, pitch)");
	free(err);
	assert_int_equal(rules->n, 2);
}

static void test_config__compliance_rules_replace_defaults(void **state)
{
	struct fixture *f = *state;
	const struct compliance_rules *rules = &f->cfg.compliance.rules;

	assert_int_equal(load(f,
		"[compliance]\n"
		"hrv_high_bpm = 8\n"
		"rule = flash hr<65 hrv=low\n"
		"[server]\n"
		"port = 2000\n"
		"[compliance]\n"
		"rule = seq_systolic hr>=65 station~\"CT 2*\"\n"), 0);
	assert_null(f->err);
	assert_int_equal(f->cfg.compliance.hrv_high_bpm, 8);
	assert_int_equal(rules->n, 2);
	assert_string_equal(rules->rules[0].text, "flash hr<65 hrv=low");
	assert_string_equal(rules->rules[1].code, "seq_systolic");
	assert_string_equal(rules->rules[1].conds[1].pattern, "CT 2*");

	/* Without rule lines the built-in table stays. */
	assert_int_equal(load(f, "[compliance]\nhrv_high_bpm = 12\n"), 0);
	assert_int_equal(f->cfg.compliance.hrv_high_bpm, 12);
	assert_int_equal(rules->n, 5);
	assert_int_equal(load(f, "[compliance]\n"), 0);
	assert_defaults(&f->cfg);
}

static void test_config__reports_bad_compliance_rule_at_its_line(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f,
		"[compliance]\n"
		"rule = flash hr<60\n"
		"rule = flash hr<60 hrv=medium\n"), -EINVAL);
	assert_error_at(f, 3, "rule: 'medium' is not a number (digits, "
	                      "optionally '.' and digits), low or high in "
	                      "'hrv=medium'");
	/* On error the defaults are what is left. */
	assert_defaults(&f->cfg);

	assert_int_equal(load(f, "[compliance]\nrule = flash heart<60\n"),
	                 -EINVAL);
	assert_error_at(f, 2, "rule: unknown field 'heart' in 'heart<60' (one "
	                      "of hr, hrv, calcium, model, station)");
	assert_int_equal(load(f, "[compliance]\nhrv_high_bpm = 0\n"), -EINVAL);
	assert_error_at(f, 2, "hrv_high_bpm: '0' is out of range 1..100");
	assert_int_equal(load(f, "[compliance]\nhrv_high = 10\n"), -EINVAL);
	assert_error_at(f, 2, "unknown key 'hrv_high' in section [compliance]");
}

static void test_config__override_of_compliance_rule_replaces_defaults(void **state)
{
	struct fixture *f = *state;
	const struct compliance_rules *rules = &f->cfg.compliance.rules;
	char *err = NULL;

	assert_int_equal(config_override(&f->cfg,
	                 "compliance.rule=flash hr<70", &err), 0);
	assert_int_equal(config_override(&f->cfg,
	                 "compliance.rule=seq_systolic hr>=70", &err), 0);
	assert_null(err);
	assert_int_equal(rules->n, 2);
	assert_string_equal(rules->rules[0].text, "flash hr<70");

	/* After a file's rules, an override adds one. */
	assert_int_equal(load(f, "[compliance]\nrule = flash hr<60\n"), 0);
	assert_int_equal(config_override(&f->cfg,
	                 "compliance.rule=seq_diastolic hr>=60", &err), 0);
	assert_int_equal(rules->n, 2);
	assert_string_equal(rules->rules[1].code, "seq_diastolic");

	assert_int_equal(config_override(&f->cfg, "compliance.rule=flash",
	                                 &err), -EINVAL);
	assert_string_equal(err, "-o compliance.rule=flash: rule: rule 'flash' "
	                         "has no condition (expected CODE CONDITION...)");
	free(err);
	assert_int_equal(rules->n, 2);
}

/* Checks across keys name the line of [tls] port (or [server] port). */
static void test_config__check_names_the_line_of_the_key_at_fault(void **state)
{
	struct fixture *f = *state;
	char expected[512];

	assert_int_equal(load(f, "[server]\nport = 104\n[tls]\n\nport = 2762\n"), 0);
	assert_int_equal(config_check(&f->cfg, &f->err), -EINVAL);
	assert_error_at(f, 5, "[tls] port is set but certificate is missing");
	free(f->err);
	f->err = NULL;

	assert_int_equal(load(f, "[server]\nport = 0\n"), 0);
	assert_int_equal(config_check(&f->cfg, &f->err), -EINVAL);
	assert_error_at(f, 2, "no listener: [server] port and [tls] port are both 0");
	free(f->err);
	f->err = NULL;

	/* An override has no line: the file is named alone. */
	assert_int_equal(config_override(&f->cfg, "tls.port=2762", NULL), 0);
	assert_int_equal(config_override(&f->cfg, "tls.certificate=/c.pem", NULL), 0);
	assert_int_equal(config_override(&f->cfg, "tls.private_key=/k.pem", NULL), 0);
	assert_int_equal(config_check(&f->cfg, &f->err), -EINVAL);
	snprintf(expected, sizeof expected, "%s: [tls] port is set but ca_file is "
	         "missing (needed to check client certificates; or set "
	         "client_certificate = ignore)", f->path);
	assert_string_equal(f->err, expected);
	free(f->err);
	f->err = NULL;
	assert_int_equal(config_override(&f->cfg, "tls.client_certificate=ignore", NULL), 0);
	assert_int_equal(config_check(&f->cfg, NULL), 0);
	assert_int_equal(config_override(&f->cfg, "server.port=2762", NULL), 0);
	assert_int_equal(config_check(&f->cfg, NULL), -EINVAL);
}

static void test_config__tls_and_timeouts_have_their_defaults(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[tls]\nprofile = bcp195\n"), 0);
	assert_int_equal(f->cfg.tls.port, 0);
	assert_int_equal(f->cfg.tls.profile, CONFIG_TLS_BCP195);
	assert_int_equal(f->cfg.tls.client_certificate, CONFIG_TLS_REQUIRE);
	assert_string_equal(f->cfg.tls.certificate, "");
	assert_int_equal(f->cfg.server.socket_timeout_s, 60);
	assert_int_equal(f->cfg.server.shutdown_grace_s, 10);
	assert_int_equal(config_check(&f->cfg, NULL), 0);

	assert_int_equal(load(f, "[tls]\nprofile = sslv3\n"), -EINVAL);
	assert_error_at(f, 2, "profile: 'sslv3' is not one of bcp195-nd, bcp195, bcp195-ex");
}

/* allow lines add up; a bad one names its line. */
static void test_config__allow_lines_add_up_and_bad_ones_name_their_line(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[access]\nallow = PACS 10.0.0.1\n"
	                         "allow = CT1\n"), 0);
	assert_int_equal(f->cfg.access.n, 2);
	assert_string_equal(f->cfg.access.rules[1].aetitle, "CT1");

	assert_int_equal(load(f, "[access]\nallow = PACS\nallow = CT1 10.0.0.300\n"),
	                 -EINVAL);
	assert_error_at(f, 3, "allow: '10.0.0.300' is not an IPv4 address or "
	                "address/prefix");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config__defaults),
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_config__check_names_the_line_of_the_key_at_fault),
		T(test_config__tls_and_timeouts_have_their_defaults),
		T(test_config__allow_lines_add_up_and_bad_ones_name_their_line),
		T(test_config__loads_a_good_file),
		T(test_config__empty_file_gives_defaults),
		T(test_config__leaves_errmsg_alone_on_success),
		T(test_config__reports_misspelt_key_at_its_line),
		T(test_config__counts_lines_across_long_and_crlf_lines),
		T(test_config__rejects_too_long_lines),
		T(test_config__rejects_out_of_range_values),
		T(test_config__rejects_numbers_with_junk),
		T(test_config__rejects_bad_bool),
		T(test_config__rejects_bad_enums),
		T(test_config__checks_aetitle_and_bind),
		T(test_config__rejects_unknown_section),
		T(test_config__rejects_keys_outside_sections),
		T(test_config__rejects_duplicate_keys),
		T(test_config__reports_syntax_errors_at_their_line),
		T(test_config__description_lines_replace_defaults),
		T(test_config__reports_missing_file),
		T(test_config__overrides_keys),
		T(test_config__rejects_bad_overrides),
		T(test_config__override_of_description_replaces_defaults),
		T(test_config__loads_scan_type_rules_in_file_order),
		T(test_config__reports_bad_scan_type_rule_at_its_line),
		T(test_config__override_appends_scan_type_rule),
		T(test_config__compliance_rules_replace_defaults),
		T(test_config__reports_bad_compliance_rule_at_its_line),
		T(test_config__override_of_compliance_rule_replaces_defaults),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
