/*
 * access.h - who may open an association: [access] allow lines of
 * hrauditd.ini, each a calling AE title optionally tied to host addresses.
 *
 *   allow = CT_FORCE1 10.20.30.41
 *   allow = PACS_FWD 10.20.0.0/16 10.21.0.7
 *   allow = * 10.20.30.50             any calling AE title from that host
 *
 * An empty list accepts every calling AE title from every address (the
 * daemon warns at start).  Otherwise the calling AE title must match a line
 * (exactly, or "*"), and when that line names addresses the peer must be
 * in one of them; the first line whose AE title and addresses both match
 * accepts.  server.c asks before it accepts an association (PS3.8 7.1.1.5:
 * refused with "calling AE title not recognized").
 *
 * Conventions: 0 or a negative errno; *errmsg, when set, is malloc'd and
 * the caller's to free.
 */
#ifndef HRAUDIT_ACCESS_H
#define HRAUDIT_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACCESS_MAX_HOSTS 64    /* addresses on one allow line */
#define ACCESS_MAX_RULES 1024  /* allow lines                 */

struct access_net {
	uint32_t addr;             /* host byte order, already masked */
	uint32_t mask;
};

struct access_rule {
	char aetitle[17];          /* "*" for any                     */
	struct access_net *hosts;
	size_t nhosts;             /* 0: any address                  */
};

struct access_list {
	struct access_rule *rules;
	size_t n;
};

/*
 * Parses "AETITLE [ADDRESS[/PREFIX]]..." and appends it.  Returns 0,
 * -EINVAL with *errmsg ("'10.1.2.300' is not an IPv4 address or
 * address/prefix"), or -ENOMEM.  On error the list is unaltered.
 */
int access_rule_add(struct access_list *list, const char *text,
                    char **errmsg)
	__attribute__((warn_unused_result));

/*
 * May `calling_aet` connect from `peer` (dotted IPv4 text)?  A peer that is
 * not an IPv4 address matches only lines without addresses.  On refusal,
 * *why (static text) says whether the AE title or the address failed.
 */
bool access_allowed(const struct access_list *list, const char *calling_aet,
                    const char *peer, const char **why);

/* Why `aet` is not a valid AE title (PS3.5 6.2, AE: printable ASCII
 * without '\'; the length is the caller's to check), or NULL. */
const char *access_aetitle_problem(const char *aet);

/* Are two AE titles the same?  Trailing spaces are padding. */
bool access_aetitle_equal(const char *a, const char *b);

/* Frees the list's lines; the list is then empty.  Accepts NULL. */
void access_list_release(struct access_list *list);

#endif
