/*
 * rule.c - the words of a site rule (include/rule.h): the reading that
 * classify.c and compliance.c share.  Pure C, no I/O; every loop is
 * bounded by the text.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* vasprintf, strndup */
#endif

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule.h"

char *rule_msg(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

int rule_quote_len(const char *s)
{
	size_t n = strlen(s);

	if (n <= RULE_QUOTE_MAX)
		return (int)n;
	n = RULE_QUOTE_MAX;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return (int)n;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

int rule_text(const char *text, size_t max, char **out, char **errmsg)
{
	char *s;
	size_t len;

	for (len = 0; len <= max && text[len]; len++) {
		if (((unsigned char)text[len] < 0x20 && text[len] != '\t') ||
		    text[len] == 0x7f) {
			*errmsg = rule_msg("control character 0x%02x at byte "
			                   "%zu of the rule",
			                   (unsigned)(unsigned char)text[len],
			                   len + 1);
			return -EINVAL;
		}
	}
	if (len > max) {
		*errmsg = rule_msg("rule is longer than %zu bytes", max);
		return -EINVAL;
	}
	while (len > 0 && is_blank(*text)) {
		text++;
		len--;
	}
	while (len > 0 && is_blank(text[len - 1]))
		len--;
	if (len == 0) {
		*errmsg = rule_msg("empty rule (expected CODE CONDITION...)");
		return -EINVAL;
	}
	s = strndup(text, len);
	if (!s)
		return -ENOMEM;
	*out = s;
	return 0;
}

int rule_next_word(const char *text, const char **pos, char *buf,
                   char **errmsg)
{
	const char *p = *pos;
	bool quoted = false;
	size_t n = 0;

	while (is_blank(*p))
		p++;
	if (!*p) {
		*pos = p;
		return 0;
	}
	for (; *p && (quoted || !is_blank(*p)); p++) {
		if (*p == '"')
			quoted = !quoted;
		else
			buf[n++] = *p;
	}
	buf[n] = '\0';
	*pos = p;
	if (quoted) {
		*errmsg = rule_msg("unterminated quote in '%.*s'",
		                   rule_quote_len(text), text);
		return -EINVAL;
	}
	return 1;
}

size_t rule_name_len(const char *word)
{
	const char *p = word;

	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
	       *p == '_')
		p++;
	return (size_t)(p - word);
}

const char *rule_op(const char *p, char *op)
{
	switch (*p) {
	case '~':
	case '=':
		*op = *p;
		return p + 1;
	case '<':
	case '>':
		if (p[1] == '=') {
			*op = *p == '<' ? 'l' : 'g';
			return p + 2;
		}
		*op = *p;
		return p + 1;
	}
	return NULL;
}

int rule_number(const char *s, const char *end, double *out)
{
	uint64_t mant = 0;
	double scale = 1.0;
	unsigned digits = 0;
	bool point = false, frac = false;
	const char *p;

	if (s == end || *s < '0' || *s > '9')
		return -EINVAL;
	for (p = s; p != end && *p; p++) {
		if (*p == '.' && !point) {
			point = true;
			continue;
		}
		if (*p < '0' || *p > '9' || ++digits > RULE_NUMBER_DIGITS)
			return -EINVAL;
		mant = mant * 10 + (uint64_t)(*p - '0');
		if (point) {
			scale *= 10.0;
			frac = true;
		}
	}
	if (point && !frac)
		return -EINVAL;
	*out = (double)mant / scale;
	return 0;
}

int rule_result(int r, char *msg, char **errmsg)
{
	if (r == -EINVAL && !msg)
		r = -ENOMEM;    /* the message itself could not be made */
	if (errmsg && r == -EINVAL)
		*errmsg = msg;
	else
		free(msg);
	return r;
}
