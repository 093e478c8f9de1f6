/*
 * config.c - hrauditd.ini: defaults, file loading and -o overrides.
 *
 * One table (config_keys below) maps each [section] key to its type, bounds,
 * default and field, as Redis' static_configs does; defaults, file lines and
 * -o overrides all go through the same setter, so the defaults pass the same
 * checks as user input.  inih splits the file into lines and key = value
 * pairs; we feed it through our own line reader, which knows the line
 * number of every error, rejects over-long lines instead of letting inih
 * split them, and catches unknown [sections] even when they hold no key.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* strdup, strndup, strcasecmp, inet_pton, fopen "e" */
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "config.h"

/*
 * Longest line we accept, including the line end: [database] path takes up
 * to 4095 bytes, plus the key, '=' and spaces.  inih's default is 200.
 */
#define CONFIG_MAX_LINE 8192

enum config_type {
	CONFIG_STRING,  /* char[], length 1..max, optional extra check        */
	CONFIG_UINT,    /* unsigned, min..max                                 */
	CONFIG_BOOL,    /* bool: yes|no|true|false|1|0                        */
	CONFIG_ENUM,    /* int, or bool when the field is a bool              */
	CONFIG_PATTERN, /* struct extract_filter; repeatable                  */
	CONFIG_RULE,    /* struct classify_rules; repeatable, appends         */
	CONFIG_COMPLIANCE, /* struct compliance_rules; repeatable, the first
	                    * replaces the default list as CONFIG_PATTERN's do */
	CONFIG_ACCESS,  /* struct access_list; repeatable, appends            */
};

struct config_enum_value {
	const char *name;
	int value;
};

struct config_key {
	const char *section;
	const char *name;
	enum config_type type;
	size_t offset;
	size_t size;
	const char *def;                        /* default, as in a file   */
	const char *const *def_list;            /* CONFIG_PATTERN and
	                                         * CONFIG_COMPLIANCE default */
	unsigned min, max;                      /* value, or string length */
	/* CONFIG_STRING: NULL if the value is good, else why it is not. */
	const char *(*check)(const char *value);
	const struct config_enum_value *values; /* CONFIG_ENUM, NULL-ended */
};

static const char *check_ipv4(const char *value);

#define FIELD(f) offsetof(struct config, f), sizeof(((struct config *)0)->f)

static const struct config_enum_value synchronous_values[] = {
	{ "full", 1 },
	{ "normal", 0 },
	{ NULL, 0 },
};

static const struct config_enum_value tls_verify_values[] = {
	{ "require", CONFIG_TLS_REQUIRE },
	{ "verify", CONFIG_TLS_VERIFY },
	{ "ignore", CONFIG_TLS_IGNORE },
	{ NULL, 0 },
};

static const struct config_enum_value tls_profile_values[] = {
	{ "bcp195-nd", CONFIG_TLS_BCP195_ND },
	{ "bcp195", CONFIG_TLS_BCP195 },
	{ "bcp195-ex", CONFIG_TLS_BCP195_EX },
	{ NULL, 0 },
};

static const struct config_enum_value log_level_values[] = {
	{ "error", LOG_ERR },
	{ "warning", LOG_WARNING },
	{ "info", LOG_INFO },
	{ "debug", LOG_DEBUG },
	{ NULL, 0 },
};

/* Series Descriptions of the seed site's cardiac protocols (seed talk). */
static const char *const default_descriptions[] = {
	"F1_CorCTA*", "F1_Coronary*", "F1_GatedBody*",
	"DS_CorAdSeq*", "DS_SysAdSeq*", "SS_CorAdSeq*", "SS_SysAdSeq*",
	"CorCTA*", "CTA Coronary*", "Gated Thoracic Aorta*",
	"Calcium Scoring*",
	NULL,
};

/*
 * The seed site's scan-selection table (../shared/DOMAIN.md), as rules:
 *
 *   HR (bpm)  HRV   Calcium  Scan type
 *   < 60      low   0        Flash (high-pitch spiral)
 *   60-65     low   0-100    Diastolic gated sequential
 *   > 65      high  0-100    Systolic gated sequential
 *   > 60      high  > 100    UHR retrospective spiral (NAEOTOM Alpha only)
 *   < 60      low   > 100    UHR diastolic gated sequential (Alpha only)
 */
static const char *const default_compliance_rules[] = {
	"flash hr<60 hrv=low calcium=0",
	"seq_diastolic hr=60-65 hrv=low calcium=0-100",
	"seq_systolic hr>65 hrv=high calcium=0-100",
	"uhr_spiral_retro hr>60 hrv=high calcium>100 model~\"*NAEOTOM Alpha*\"",
	"uhr_seq_diastolic hr<60 hrv=low calcium>100 model~\"*NAEOTOM Alpha*\"",
	NULL,
};

static const struct config_key config_keys[] = {
	{ "server", "aetitle", CONFIG_STRING, FIELD(server.aetitle),
	  "HRAUDIT", NULL, 1, 16, access_aetitle_problem, NULL },
	/* 0: no plain listener (TLS only). */
	{ "server", "port", CONFIG_UINT, FIELD(server.port),
	  "104", NULL, 0, 65535, NULL, NULL },
	{ "server", "bind", CONFIG_STRING, FIELD(server.bind),
	  "0.0.0.0", NULL, 1, 15, check_ipv4, NULL },
	{ "server", "check_called_aetitle", CONFIG_BOOL,
	  FIELD(server.check_called_aetitle),
	  "yes", NULL, 0, 0, NULL, NULL },
	{ "server", "max_associations", CONFIG_UINT,
	  FIELD(server.max_associations),
	  "16", NULL, 1, 1024, NULL, NULL },
	/* PS3.8 9.3.1: 4096 is our floor; DCMTK's ASC_MAXIMUMPDUSIZE the top. */
	{ "server", "max_pdu", CONFIG_UINT, FIELD(server.max_pdu_bytes),
	  "131072", NULL, 4096, 131072, NULL, NULL },
	{ "server", "acse_timeout", CONFIG_UINT, FIELD(server.acse_timeout_s),
	  "30", NULL, 1, 3600, NULL, NULL },
	{ "server", "dimse_timeout", CONFIG_UINT,
	  FIELD(server.dimse_timeout_s),
	  "60", NULL, 1, 3600, NULL, NULL },
	{ "server", "socket_timeout", CONFIG_UINT,
	  FIELD(server.socket_timeout_s),
	  "60", NULL, 1, 3600, NULL, NULL },
	{ "server", "max_header_bytes", CONFIG_UINT,
	  FIELD(server.max_header_bytes),
	  "8388608", NULL, 65536, 268435456, NULL, NULL },
	{ "server", "shutdown_grace", CONFIG_UINT,
	  FIELD(server.shutdown_grace_s),
	  "10", NULL, 0, 600, NULL, NULL },

	/* No default: every calling AE title is accepted (with a warning). */
	{ "access", "allow", CONFIG_ACCESS, FIELD(access),
	  NULL, NULL, 0, 0, NULL, NULL },

	{ "tls", "port", CONFIG_UINT, FIELD(tls.port),
	  "0", NULL, 0, 65535, NULL, NULL },
	{ "tls", "certificate", CONFIG_STRING, FIELD(tls.certificate),
	  NULL, NULL, 1, 4095, NULL, NULL },
	{ "tls", "private_key", CONFIG_STRING, FIELD(tls.private_key),
	  NULL, NULL, 1, 4095, NULL, NULL },
	{ "tls", "ca_file", CONFIG_STRING, FIELD(tls.ca_file),
	  NULL, NULL, 1, 4095, NULL, NULL },
	{ "tls", "client_certificate", CONFIG_ENUM,
	  FIELD(tls.client_certificate),
	  "require", NULL, 0, 0, NULL, tls_verify_values },
	{ "tls", "profile", CONFIG_ENUM, FIELD(tls.profile),
	  "bcp195-nd", NULL, 0, 0, NULL, tls_profile_values },

	{ "database", "path", CONFIG_STRING, FIELD(database.path),
	  "/var/lib/hraudit/hraudit.db", NULL, 1, 4095, NULL, NULL },
	{ "database", "busy_timeout", CONFIG_UINT,
	  FIELD(database.busy_timeout_ms),
	  "5000", NULL, 0, 600000, NULL, NULL },
	{ "database", "synchronous", CONFIG_ENUM,
	  FIELD(database.synchronous_full),
	  "full", NULL, 0, 0, NULL, synchronous_values },

	{ "filter", "description", CONFIG_PATTERN, FIELD(filter),
	  NULL, default_descriptions, 1, 1024, NULL, NULL },

	/* No default rules: without them the scan type is inferred
	 * (classify.c).  The length is checked by classify_rule_add(). */
	{ "scan_type", "rule", CONFIG_RULE, FIELD(scan_type_rules),
	  NULL, NULL, 0, 0, NULL, NULL },

	/* HR variation >= 10 bpm predicts failed prospectively gated scans
	 * (DOMAIN.md, published thresholds). */
	{ "compliance", "hrv_high_bpm", CONFIG_UINT,
	  FIELD(compliance.hrv_high_bpm),
	  "10", NULL, 1, 100, NULL, NULL },
	/* The length is checked by compliance_rule_add(). */
	{ "compliance", "rule", CONFIG_COMPLIANCE, FIELD(compliance.rules),
	  NULL, default_compliance_rules, 0, 0, NULL, NULL },

	{ "log", "level", CONFIG_ENUM, FIELD(log.level),
	  "info", NULL, 0, 0, NULL, log_level_values },
};

#define N_KEYS (sizeof(config_keys) / sizeof(config_keys[0]))
_Static_assert(N_KEYS <= CONFIG_MAX_KEYS, "raise CONFIG_MAX_KEYS");

/* One file being loaded: inih's stream (our reader) and handler context. */
struct load_ctx {
	FILE *fp;
	const char *path;
	unsigned line;               /* lines read so far                   */
	struct config *cfg;
	unsigned seen_line[N_KEYS];  /* line a key was first set on, or 0   */
	char *err;                   /* first error, "path:line: message"   */
	unsigned err_line;
	int r;
};

static char *msg_vfmt(const char *fmt, va_list ap)
{
	va_list aq;
	char *s;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (s)
		vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

static char *msg_fmt(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static char *msg_fmt(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = msg_vfmt(fmt, ap);
	va_end(ap);
	return s;
}

static void set_errmsg(char **errmsg, char *msg)
{
	if (errmsg)
		*errmsg = msg;
	else
		free(msg);
}

/* A copy of s without leading and trailing blanks, or NULL (no memory). */
static char *dup_trimmed(const char *s, size_t len)
{
	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	return strndup(s, len);
}

static const char *check_ipv4(const char *value)
{
	struct in_addr a;

	if (inet_pton(AF_INET, value, &a) != 1)
		return "is not an IPv4 address (a.b.c.d)";
	return NULL;
}

static const struct config_key *key_find(const char *section,
                                         const char *name)
{
	size_t i;

	for (i = 0; i < N_KEYS; i++)
		if (strcmp(config_keys[i].section, section) == 0 &&
		    strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}

static bool section_known(const char *section, size_t len)
{
	size_t i;

	for (i = 0; i < N_KEYS; i++)
		if (strlen(config_keys[i].section) == len &&
		    memcmp(config_keys[i].section, section, len) == 0)
			return true;
	return false;
}

/*
 * Strict unsigned decimal: digits only (no sign, blank, base prefix or
 * trailing junk).  Returns 0, -EINVAL (not a number) or -ERANGE.
 */
static int parse_uint(const char *s, unsigned min, unsigned max,
                      unsigned *out)
{
	uint64_t v = 0;
	bool big = false;
	const char *p;

	if (!*s)
		return -EINVAL;
	for (p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (!big) {
			v = v * 10 + (uint64_t)(*p - '0');
			big = v > UINT32_MAX;
		}
	}
	if (big || v < min || v > max)
		return -ERANGE;
	*out = (unsigned)v;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "1" };
	static const char *const no[] = { "no", "false", "0" };
	size_t i;

	for (i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static void patterns_free(struct extract_filter *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->patterns[i]);
	free(f->patterns);
	f->patterns = NULL;
	f->n = 0;
}

/*
 * Adds one pattern; with `replace`, the new pattern replaces the list.
 * Returns 0 or -ENOMEM (list unaltered).
 */
static int patterns_add(struct extract_filter *f, const char *pattern,
                        bool replace)
{
	char **v;
	char *p;

	p = strdup(pattern);
	if (!p)
		return -ENOMEM;
	if (replace) {
		v = malloc(sizeof(*v));
		if (!v)
			goto nomem;
		patterns_free(f);
	} else {
		v = realloc(f->patterns, (f->n + 1) * sizeof(*v));
		if (!v)
			goto nomem;
	}
	v[f->n++] = p;
	f->patterns = v;
	return 0;
nomem:
	free(p);
	return -ENOMEM;
}

/* Is the list exactly the built-in default? */
static bool patterns_are_default(const struct extract_filter *f,
                                 const char *const *def)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (!def[i] || strcmp(f->patterns[i], def[i]) != 0)
			return false;
	return def[i] == NULL;
}

/* Are the compliance rules exactly the built-in default? */
static bool compliance_are_default(const struct compliance_rules *rules,
                                   const char *const *def)
{
	size_t i;

	for (i = 0; i < rules->n; i++)
		if (!def[i] || strcmp(rules->rules[i].text, def[i]) != 0)
			return false;
	return def[i] == NULL;
}

/*
 * Adds one compliance rule; with `replace`, the new rule replaces the
 * list.  Returns 0, -EINVAL with *reason, or -ENOMEM (list unaltered).
 */
static int compliance_add(struct compliance_rules *rules, const char *text,
                          bool replace, char **reason)
{
	struct compliance_rules one = { NULL, 0 };
	int r;

	if (!replace)
		return compliance_rule_add(rules, text, reason);
	r = compliance_rule_add(&one, text, reason);
	if (r < 0)
		return r;
	compliance_rules_release(rules);
	*rules = one;
	return 0;
}

/* Frees a list field (the types with a def_list). */
static void list_release(struct config *cfg, const struct config_key *k)
{
	void *field = (char *)cfg + k->offset;

	if (k->type == CONFIG_PATTERN)
		patterns_free(field);
	else if (k->type == CONFIG_COMPLIANCE)
		compliance_rules_release(field);
}

/* "a, b, c" for the enum error message; returns NULL if no memory. */
static char *enum_names(const struct config_enum_value *values)
{
	size_t len = 1, i;
	char *s;

	for (i = 0; values[i].name; i++)
		len += strlen(values[i].name) + 2;
	s = malloc(len);
	if (!s)
		return NULL;
	s[0] = '\0';
	for (i = 0; values[i].name; i++) {
		if (i > 0)
			strcat(s, ", ");
		strcat(s, values[i].name);
	}
	return s;
}

/*
 * Parses `raw` (blanks around it ignored) and stores it in k's field of
 * cfg.  For CONFIG_PATTERN and CONFIG_COMPLIANCE, `replace` drops the
 * current list first; CONFIG_RULE always appends.
 * Returns 0, or -EINVAL / -ENOMEM with *why set to a malloc'd message
 * naming the key ("port: '70000' is out of range 1..65535"), or NULL if
 * even that could not be allocated.  On error cfg is unaltered.
 */
static int key_set(struct config *cfg, const struct config_key *k,
                   const char *raw, bool replace, char **why)
{
	void *field = (char *)cfg + k->offset;
	const struct config_enum_value *e;
	const char *reason;
	char *v, *names, *reason_msg = NULL;
	unsigned u;
	bool b;
	size_t len;
	int r;

	*why = NULL;
	v = dup_trimmed(raw, strlen(raw));
	if (!v) {
		r = -ENOMEM;
		goto out;
	}
	len = strlen(v);
	if (len == 0) {
		r = -EINVAL;
		*why = msg_fmt("%s: missing value", k->name);
		goto out;
	}

	switch (k->type) {
	case CONFIG_STRING:
		if (len > k->max) {
			r = -EINVAL;
			*why = msg_fmt("%s: '%s' is longer than %u characters",
			               k->name, v, k->max);
			goto out;
		}
		reason = k->check ? k->check(v) : NULL;
		if (reason) {
			r = -EINVAL;
			*why = msg_fmt("%s: '%s' %s", k->name, v, reason);
			goto out;
		}
		memcpy(field, v, len + 1);
		break;

	case CONFIG_UINT:
		r = parse_uint(v, k->min, k->max, &u);
		if (r == -ERANGE) {
			r = -EINVAL;
			*why = msg_fmt("%s: '%s' is out of range %u..%u",
			               k->name, v, k->min, k->max);
			goto out;
		}
		if (r < 0) {
			*why = msg_fmt("%s: '%s' is not a number", k->name, v);
			goto out;
		}
		*(unsigned *)field = u;
		break;

	case CONFIG_BOOL:
		r = parse_bool(v, &b);
		if (r < 0) {
			*why = msg_fmt("%s: '%s' is not a boolean "
			               "(yes, no, true, false, 1, 0)", k->name, v);
			goto out;
		}
		*(bool *)field = b;
		break;

	case CONFIG_ENUM:
		for (e = k->values; e->name; e++)
			if (strcasecmp(v, e->name) == 0)
				break;
		if (!e->name) {
			r = -EINVAL;
			names = enum_names(k->values);
			if (names)
				*why = msg_fmt("%s: '%s' is not one of %s",
				               k->name, v, names);
			free(names);
			goto out;
		}
		if (k->size == sizeof(bool))
			*(bool *)field = e->value != 0;
		else
			*(int *)field = e->value;
		break;

	case CONFIG_PATTERN:
		if (len > k->max) {
			r = -EINVAL;
			*why = msg_fmt("%s: pattern is longer than %u characters",
			               k->name, k->max);
			goto out;
		}
		r = patterns_add(field, v, replace);
		if (r < 0)
			goto out;
		break;

	case CONFIG_RULE:
		r = classify_rule_add(field, v, &reason_msg);
		if (r == -EINVAL) {
			*why = msg_fmt("%s: %s", k->name, reason_msg);
			free(reason_msg);
			goto out;
		}
		if (r < 0)
			goto out;
		break;

	case CONFIG_COMPLIANCE:
	case CONFIG_ACCESS:
		if (k->type == CONFIG_COMPLIANCE)
			r = compliance_add(field, v, replace, &reason_msg);
		else
			r = access_rule_add(field, v, &reason_msg);
		if (r == -EINVAL) {
			*why = msg_fmt("%s: %s", k->name, reason_msg);
			free(reason_msg);
			goto out;
		}
		if (r < 0)
			goto out;
		break;
	}
	r = 0;
out:
	if (r == -ENOMEM && !*why)
		*why = msg_fmt("%s: out of memory", k->name);
	free(v);
	return r;
}

/*
 * Fills cfg with the built-in defaults.  cfg may be uninitialised: nothing
 * in it is freed.  The default filter list is allocated, so config_release()
 * must be called afterwards.  If that allocation fails the list is left
 * empty, which config_load() reports as -ENOMEM.  The same goes for the
 * default compliance rules.
 */
void config_defaults(struct config *cfg)
{
	const struct config_key *k;
	char *why;
	size_t i, j;

	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < N_KEYS; i++) {
		k = &config_keys[i];
		if (k->def) {
			/* Cannot fail: the table is checked by the unit test. */
			(void)key_set(cfg, k, k->def, false, &why);
			free(why);
		}
		for (j = 0; k->def_list && k->def_list[j]; j++) {
			if (key_set(cfg, k, k->def_list[j], j == 0, &why) < 0) {
				list_release(cfg, k);
				free(why);
				break;
			}
			free(why);
		}
	}
}

void config_release(struct config *cfg)
{
	if (!cfg)
		return;
	patterns_free(&cfg->filter);
	classify_rules_release(&cfg->scan_type_rules);
	compliance_rules_release(&cfg->compliance.rules);
	access_list_release(&cfg->access);
}

static void load_fail(struct load_ctx *ctx, unsigned line, int r,
                      const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Records the first error of a load, prefixed with "path:line: ". */
static void load_fail(struct load_ctx *ctx, unsigned line, int r,
                      const char *fmt, ...)
{
	va_list ap;
	char *m;

	if (ctx->r < 0)
		return;
	va_start(ap, fmt);
	m = msg_vfmt(fmt, ap);
	va_end(ap);
	ctx->r = r;
	ctx->err_line = line;
	ctx->err = m ? msg_fmt("%s:%u: %s", ctx->path, line, m) : NULL;
	free(m);
}

/*
 * inih's reader (fgets-like): one whole line per call, so inih's line
 * count and ours agree.  Returns NULL at end of file or on error (recorded
 * in ctx), which stops inih.
 */
static char *load_read_line(char *str, int num, void *stream)
{
	struct load_ctx *ctx = stream;
	const char *p, *end;
	size_t n = 0;
	int c;

	if (ctx->r < 0 || num < 2)
		return NULL;
	while ((c = getc(ctx->fp)) != EOF) {
		if (n + 1 >= (size_t)num) {
			load_fail(ctx, ctx->line + 1, -EINVAL,
			          "line is longer than %d bytes", num - 2);
			return NULL;
		}
		if (c == '\0') {
			load_fail(ctx, ctx->line + 1, -EINVAL,
			          "NUL byte in line");
			return NULL;
		}
		str[n++] = (char)c;
		if (c == '\n')
			break;
	}
	if (ferror(ctx->fp)) {
		if (ctx->r == 0) {
			ctx->r = -(errno ? errno : EIO);
			ctx->err = msg_fmt("cannot read '%s': %s", ctx->path,
			                   strerror(-ctx->r));
		}
		return NULL;
	}
	if (n == 0)
		return NULL;
	str[n] = '\0';
	ctx->line++;

	/* A section header names a known section, even an empty one. */
	p = str;
	if (ctx->line == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	p += strspn(p, " \t");
	if (*p == '[') {
		end = strchr(p, ']');
		if (end && !section_known(p + 1, (size_t)(end - p - 1))) {
			load_fail(ctx, ctx->line, -EINVAL,
			          "unknown section [%.*s]",
			          (int)(end - p - 1), p + 1);
			return NULL;
		}
	}
	return str;
}

static int load_handler(void *user, const char *section, const char *name,
                        const char *value)
{
	struct load_ctx *ctx = user;
	const struct config_key *k;
	size_t i;
	char *why;
	int r;

	if (ctx->r < 0)
		return 0;
	if (!*section) {
		load_fail(ctx, ctx->line, -EINVAL,
		          "key '%s' is outside any [section]", name);
		return 0;
	}
	if (!section_known(section, strlen(section))) {
		load_fail(ctx, ctx->line, -EINVAL, "unknown section [%s]",
		          section);
		return 0;
	}
	k = key_find(section, name);
	if (!k) {
		load_fail(ctx, ctx->line, -EINVAL,
		          "unknown key '%s' in section [%s]", name, section);
		return 0;
	}
	i = (size_t)(k - config_keys);
	if (ctx->seen_line[i] && k->type != CONFIG_PATTERN &&
	    k->type != CONFIG_RULE && k->type != CONFIG_COMPLIANCE &&
	    k->type != CONFIG_ACCESS) {
		load_fail(ctx, ctx->line, -EINVAL,
		          "duplicate key '%s' in section [%s] (first set on "
		          "line %u)", name, section, ctx->seen_line[i]);
		return 0;
	}
	/* The first pattern (or compliance rule) in a file replaces the
	 * default list. */
	r = key_set(ctx->cfg, k, value, ctx->seen_line[i] == 0, &why);
	if (r < 0) {
		load_fail(ctx, ctx->line, r, "%s", why ? why : "out of memory");
		free(why);
		return 0;
	}
	if (!ctx->seen_line[i])
		ctx->seen_line[i] = ctx->line;
	return 1;
}

/*
 * Runs inih over ctx->fp.  Debian's libinih makes its build options
 * run-time globals; we set the ones we rely on for the call and put them
 * back, as other code in the process might use inih differently.
 */
static int load_parse(struct load_ctx *ctx)
{
	int saved_max_line = ini_max_line;
	bool saved_multiline = ini_allow_multiline;
	bool saved_stop = ini_stop_on_first_error;
	int rc;

	ini_max_line = CONFIG_MAX_LINE;
	/* No continuation lines: an indented "key = value" is a key. */
	ini_allow_multiline = false;
	ini_stop_on_first_error = true;
	rc = ini_parse_stream(load_read_line, ctx, load_handler, ctx);
	ini_max_line = saved_max_line;
	ini_allow_multiline = saved_multiline;
	ini_stop_on_first_error = saved_stop;

	/* inih returns the line of its first error, which may be a syntax
	 * error before the one our handler saw. */
	if (rc > 0 && (ctx->r == 0 || (unsigned)rc < ctx->err_line)) {
		free(ctx->err);
		ctx->err = NULL;
		ctx->r = 0;
		load_fail(ctx, (unsigned)rc, -EINVAL,
		          "syntax error: expected [section] or key = value");
	} else if (rc < 0 && ctx->r == 0) {
		ctx->r = -ENOMEM;
	}
	return ctx->r;
}

/*
 * Unlike config_override(), cfg is output only: it need not be initialised
 * and what it held is not freed.  Whatever the result, it ends up owning a
 * filter list: call config_release() when done.
 */
int config_load(const char *path, struct config *cfg, char **errmsg)
{
	struct load_ctx ctx = { 0 };
	struct config tmp;
	int r;

	config_defaults(&tmp);
	ctx.path = path;
	ctx.cfg = &tmp;
	if (!cfg || !path) {
		r = -EINVAL;
		ctx.err = msg_fmt(cfg ? "no configuration file given"
		                      : "no configuration to load into");
		goto out;
	}
	if (tmp.filter.n == 0 || tmp.compliance.rules.n == 0) {
		r = -ENOMEM;
		goto out;
	}
	ctx.fp = fopen(path, "re");
	if (!ctx.fp) {
		r = -errno;
		ctx.err = msg_fmt("cannot open '%s': %s", path, strerror(errno));
		goto out;
	}
	r = load_parse(&ctx);
out:
	if (ctx.fp)
		fclose(ctx.fp);
	if (r < 0) {
		if (!ctx.err)
			ctx.err = msg_fmt("%s: out of memory", path ? path : "");
		set_errmsg(errmsg, ctx.err);
		config_release(&tmp);
		if (cfg)
			config_defaults(cfg);
	} else {
		tmp.path = path;
		memcpy(tmp.key_line, ctx.seen_line, sizeof ctx.seen_line);
		*cfg = tmp;
	}
	return r;
}

/* "path:line: " for key section.name as the file set it, or "path: ". */
static char *where(const struct config *cfg, const char *section,
                   const char *name)
{
	const struct config_key *k = key_find(section, name);
	unsigned line = k ? cfg->key_line[k - config_keys] : 0;
	const char *path = cfg->path ? cfg->path : "configuration";

	return line ? msg_fmt("%s:%u: ", path, line) : msg_fmt("%s: ", path);
}

int config_check(const struct config *cfg, char **errmsg)
{
	const char *section = "tls", *name = "port", *what = NULL;
	char *at;

	if (cfg->server.port == 0 && cfg->tls.port == 0) {
		section = "server";
		what = "no listener: [server] port and [tls] port are both 0";
	} else if (cfg->server.port == cfg->tls.port) {
		what = "[tls] port is the same as [server] port";
	} else if (cfg->tls.port && !cfg->tls.certificate[0]) {
		what = "[tls] port is set but certificate is missing";
	} else if (cfg->tls.port && !cfg->tls.private_key[0]) {
		what = "[tls] port is set but private_key is missing";
	} else if (cfg->tls.port && !cfg->tls.ca_file[0] &&
	           cfg->tls.client_certificate != CONFIG_TLS_IGNORE) {
		what = "[tls] port is set but ca_file is missing (needed to check "
		       "client certificates; or set client_certificate = ignore)";
	}
	if (!what)
		return 0;
	at = where(cfg, section, name);
	set_errmsg(errmsg, msg_fmt("%s%s", at ? at : "", what));
	free(at);
	return -EINVAL;
}

/*
 * cfg must be initialised (config_defaults or config_load).  A
 * filter.description or compliance.rule override, like such a line in a
 * file, replaces the built-in default list; once the list is no longer
 * the default, further ones add to it.
 */
int config_override(struct config *cfg, const char *assignment,
                    char **errmsg)
{
	const struct config_key *k;
	char *section = NULL, *name = NULL, *why = NULL, *msg = NULL;
	const char *eq, *dot;
	bool replace = false;
	int r;

	if (!cfg || !assignment) {
		r = -EINVAL;
		msg = msg_fmt("-o: missing section.key=value");
		goto out;
	}
	eq = strchr(assignment, '=');
	dot = eq ? memchr(assignment, '.', (size_t)(eq - assignment)) : NULL;
	if (!dot) {
		r = -EINVAL;
		msg = msg_fmt("-o %s: expected section.key=value", assignment);
		goto out;
	}
	section = dup_trimmed(assignment, (size_t)(dot - assignment));
	name = dup_trimmed(dot + 1, (size_t)(eq - dot - 1));
	if (!section || !name) {
		r = -ENOMEM;
		goto out;
	}
	if (!section_known(section, strlen(section))) {
		r = -EINVAL;
		msg = msg_fmt("-o %s: unknown section [%s]", assignment, section);
		goto out;
	}
	k = key_find(section, name);
	if (!k) {
		r = -EINVAL;
		msg = msg_fmt("-o %s: unknown key '%s' in section [%s]",
		              assignment, name, section);
		goto out;
	}
	if (k->type == CONFIG_PATTERN)
		replace = patterns_are_default((void *)((char *)cfg + k->offset),
		                               k->def_list);
	else if (k->type == CONFIG_COMPLIANCE)
		replace = compliance_are_default((void *)((char *)cfg + k->offset),
		                                 k->def_list);
	r = key_set(cfg, k, eq + 1, replace, &why);
	if (r < 0)
		msg = msg_fmt("-o %s: %s", assignment,
		              why ? why : "out of memory");
out:
	if (r < 0) {
		if (!msg)
			msg = msg_fmt("-o: out of memory");
		set_errmsg(errmsg, msg);
	}
	free(why);
	free(section);
	free(name);
	return r;
}
