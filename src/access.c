/*
 * access.c - the [access] allow list (include/access.h).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "rule.h"

/* Trailing spaces of an AE title are padding (PS3.5 6.2, AE). */
static size_t aet_len(const char *s)
{
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == ' ')
		n--;
	return n;
}

bool access_aetitle_equal(const char *a, const char *b)
{
	size_t na = aet_len(a), nb = aet_len(b);

	return na == nb && memcmp(a, b, na) == 0;
}

const char *access_aetitle_problem(const char *aet)
{
	for (const char *p = aet; *p; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '\\')
			return "must be printable ASCII without '\\'";
	return NULL;
}

/* PS3.5 6.2, AE: up to 16 characters of the default repertoire, no '\'. */
static int parse_aetitle(const char *word, char *out, char **errmsg)
{
	size_t n = strlen(word);

	if (n > 16) {
		*errmsg = rule_msg("ae title '%.*s' is longer than 16 characters",
		                   rule_quote_len(word), word);
		return -EINVAL;
	}
	if (access_aetitle_problem(word)) {
		*errmsg = rule_msg("ae title '%.*s' %s", rule_quote_len(word), word,
		                   access_aetitle_problem(word));
		return -EINVAL;
	}
	memcpy(out, word, n + 1);
	return 0;
}

/* "a.b.c.d" or "a.b.c.d/len". */
static int parse_net(const char *word, struct access_net *out, char **errmsg)
{
	char buf[INET_ADDRSTRLEN + 4];
	const char *slash = strchr(word, '/');
	struct in_addr a;
	unsigned prefix = 32;
	size_t n = slash ? (size_t)(slash - word) : strlen(word);

	if (n >= INET_ADDRSTRLEN)
		goto bad;
	memcpy(buf, word, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1)
		goto bad;
	if (slash) {
		const char *p = slash + 1;

		if (!*p || strlen(p) > 2)
			goto bad;
		prefix = 0;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				goto bad;
			prefix = prefix * 10 + (unsigned)(*p - '0');
		}
		if (prefix > 32)
			goto bad;
	}
	out->mask = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
	out->addr = ntohl(a.s_addr) & out->mask;
	return 0;
bad:
	*errmsg = rule_msg("'%.*s' is not an IPv4 address or address/prefix",
	                   rule_quote_len(word), word);
	return -EINVAL;
}

int access_rule_add(struct access_list *list, const char *text,
                    char **errmsg)
{
	struct access_rule rule = {0}, *v;
	char *trimmed = NULL, *word = NULL, *msg = NULL;
	const char *pos;
	int r, got;

	r = rule_text(text, 4096, &trimmed, &msg);
	if (r < 0)
		goto out;
	r = -ENOMEM;
	word = malloc(strlen(trimmed) + 1);
	if (!word)
		goto out;
	if (list->n >= ACCESS_MAX_RULES) {
		msg = rule_msg("more than %d allow lines", ACCESS_MAX_RULES);
		r = -EINVAL;
		goto out;
	}
	pos = trimmed;
	r = rule_next_word(trimmed, &pos, word, &msg);
	if (r < 0)
		goto out;
	r = parse_aetitle(word, rule.aetitle, &msg);
	if (r < 0)
		goto out;
	while ((got = rule_next_word(trimmed, &pos, word, &msg)) > 0) {
		struct access_net *h;

		if (rule.nhosts >= ACCESS_MAX_HOSTS) {
			msg = rule_msg("more than %d addresses on one line",
			               ACCESS_MAX_HOSTS);
			r = -EINVAL;
			goto out;
		}
		h = realloc(rule.hosts, (rule.nhosts + 1) * sizeof *h);
		if (!h) {
			r = -ENOMEM;
			goto out;
		}
		rule.hosts = h;
		r = parse_net(word, &rule.hosts[rule.nhosts], &msg);
		if (r < 0)
			goto out;
		rule.nhosts++;
	}
	if (got < 0) {
		r = got;
		goto out;
	}
	v = realloc(list->rules, (list->n + 1) * sizeof *v);
	if (!v) {
		r = -ENOMEM;
		goto out;
	}
	list->rules = v;
	list->rules[list->n++] = rule;
	rule.hosts = NULL;
	r = 0;
out:
	free(rule.hosts);
	free(word);
	free(trimmed);
	return rule_result(r, msg, errmsg);
}

static bool aet_matches(const char *pattern, const char *aet)
{
	return strcmp(pattern, "*") == 0 || access_aetitle_equal(pattern, aet);
}

bool access_allowed(const struct access_list *list, const char *calling_aet,
                    const char *peer, const char **why)
{
	struct in_addr a;
	bool have_addr, aet_seen = false;

	if (!list || list->n == 0)
		return true;
	have_addr = peer && inet_pton(AF_INET, peer, &a) == 1;
	for (size_t i = 0; i < list->n; i++) {
		const struct access_rule *rule = &list->rules[i];

		if (!aet_matches(rule->aetitle, calling_aet))
			continue;
		aet_seen = true;
		if (rule->nhosts == 0)
			return true;
		for (size_t j = 0; have_addr && j < rule->nhosts; j++)
			if ((ntohl(a.s_addr) & rule->hosts[j].mask) == rule->hosts[j].addr)
				return true;
	}
	if (why)
		*why = aet_seen ? "calling ae title not allowed from this address"
		                : "calling ae title not in the allow list";
	return false;
}

void access_list_release(struct access_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->n; i++)
		free(list->rules[i].hosts);
	free(list->rules);
	list->rules = NULL;
	list->n = 0;
}
