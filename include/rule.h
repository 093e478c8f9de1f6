/*
 * rule.h - the words of a site rule from hrauditd.ini, "CODE COND
 * [COND...]" with COND a field name, an operator and a value: the reading
 * that classify.c ([scan_type] rule) and compliance.c ([compliance] rule)
 * share.  What the fields and codes mean, and the messages about them,
 * stay with each of those modules.
 *
 * Rule text is configuration, but it is read as if it came from the
 * network: bounded, without strtod (no locale, sign, exponent, hex, inf).
 *
 * Conventions: functions returning int return 0 or more on success and a
 * negative errno on failure.  *errmsg, when set, is malloc'd and the
 * caller's to free; it is NULL when the message itself could not be made.
 */
#ifndef HRAUDIT_RULE_H
#define HRAUDIT_RULE_H

#include <stddef.h>

#define RULE_QUOTE_MAX 64      /* bytes of rule text quoted in a message */
#define RULE_NUMBER_DIGITS 15  /* digits of a number: exact in a double  */

/* printf into a malloc'd string, the caller's to free; NULL when out of
 * memory. */
char *rule_msg(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Bytes of s to quote in a message ("'%.*s'"): at most RULE_QUOTE_MAX,
 * cut at a UTF-8 character boundary. */
int rule_quote_len(const char *s);

/*
 * Checks a rule's whole text, at most max bytes without control
 * characters (tab allowed), and trims blanks (space, tab) at both ends.
 * Returns 0 with *out the trimmed text (malloc'd, the caller's), -EINVAL
 * with *errmsg ("control character 0x.. at byte N of the rule", "rule is
 * longer than MAX bytes", "empty rule (expected CODE CONDITION...)"), or
 * -ENOMEM.  *out is untouched on error.
 */
int rule_text(const char *text, size_t max, char **out, char **errmsg)
	__attribute__((warn_unused_result));

/*
 * Cuts the next word of *pos, a place in the rule text, into buf (which
 * holds at least as many bytes as what is left of text) and advances *pos
 * past it: blanks separate words, double quotes group blanks into a word
 * and are removed.  Returns 1 (a word), 0 (no more words) or -EINVAL with
 * *errmsg ("unterminated quote in 'TEXT'").
 */
int rule_next_word(const char *text, const char **pos, char *buf,
                   char **errmsg)
	__attribute__((warn_unused_result));

/* Bytes of the field name word starts with: letters and '_'. */
size_t rule_name_len(const char *word);

/*
 * The comparison operator at p, into *op: '~', '=', '<', '>', 'l' (<=) or
 * 'g' (>=).  Returns the value after it, or NULL when p holds no operator
 * (the NUL or another byte; *op untouched).
 */
const char *rule_op(const char *p, char *op);

/*
 * Strict decimal from s up to end (NULL: up to the NUL), "60" or "7.5":
 * digits, optionally '.' and digits; no sign, exponent, blank or locale.
 * At most RULE_NUMBER_DIGITS digits, so the digits form an exact integer
 * and one division by an exact power of ten rounds like strtod.  Returns
 * 0 with *out, or -EINVAL (*out untouched).
 */
int rule_number(const char *s, const char *end, double *out)
	__attribute__((warn_unused_result));

/*
 * The end of a module's rule_add: r is its result, msg its message
 * (malloc'd or NULL).  On -EINVAL hands msg to *errmsg, or frees it when
 * errmsg is NULL; an -EINVAL without a message (it could not be made)
 * becomes -ENOMEM.  Otherwise frees msg.  Returns the result.
 */
int rule_result(int r, char *msg, char **errmsg);

#endif
