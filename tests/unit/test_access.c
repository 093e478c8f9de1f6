/*
 * test_access.c - the [access] allow list (src/access.c): parsing of
 * "AETITLE [ADDRESS[/PREFIX]]..." and the decision for one association.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "access.h"

static void add(struct access_list *l, const char *text)
{
	char *err = NULL;

	assert_int_equal(access_rule_add(l, text, &err), 0);
	assert_null(err);
}

static void test_access__empty_list_admits_everyone(void **state)
{
	struct access_list l = {0};
	const char *why = NULL;

	(void)state;
	assert_true(access_allowed(&l, "ANYONE", "192.0.2.7", &why));
	assert_null(why);
}

static void test_access__ae_title_must_be_listed(void **state)
{
	struct access_list l = {0};
	const char *why = NULL;

	(void)state;
	add(&l, "PACS_FWD");
	assert_true(access_allowed(&l, "PACS_FWD", "10.1.2.3", &why));
	/* Trailing spaces are padding; case matters (PS3.5 6.2). */
	assert_true(access_allowed(&l, "PACS_FWD  ", "10.1.2.3", &why));
	assert_false(access_allowed(&l, "pacs_fwd", "10.1.2.3", &why));
	assert_string_equal(why, "calling ae title not in the allow list");
	assert_false(access_allowed(&l, "PACS_FWD2", "10.1.2.3", &why));
	access_list_release(&l);
	assert_int_equal(l.n, 0);
}

static void test_access__addresses_tie_a_title_to_hosts(void **state)
{
	struct access_list l = {0};
	const char *why = NULL;

	(void)state;
	add(&l, "CT1 10.20.30.41 10.21.0.0/16");
	assert_true(access_allowed(&l, "CT1", "10.20.30.41", &why));
	assert_true(access_allowed(&l, "CT1", "10.21.255.1", &why));
	assert_false(access_allowed(&l, "CT1", "10.20.30.42", &why));
	assert_string_equal(why, "calling ae title not allowed from this address");
	assert_false(access_allowed(&l, "CT1", "10.22.0.1", &why));
	/* Not an IPv4 address: only lines without addresses match. */
	assert_false(access_allowed(&l, "CT1", "::1", &why));
	/* A second line for the same title adds hosts. */
	add(&l, "CT1 127.0.0.1");
	assert_true(access_allowed(&l, "CT1", "127.0.0.1", &why));
	access_list_release(&l);
}

static void test_access__star_and_quotes(void **state)
{
	struct access_list l = {0};
	const char *why = NULL;

	(void)state;
	add(&l, "* 192.168.7.0/24");
	add(&l, "\"CT ROOM 2\" 0.0.0.0/0");
	assert_true(access_allowed(&l, "WHOEVER", "192.168.7.200", &why));
	assert_false(access_allowed(&l, "WHOEVER", "192.168.8.1", &why));
	assert_true(access_allowed(&l, "CT ROOM 2", "8.8.8.8", &why));
	access_list_release(&l);
}

static void test_access__bad_lines_are_refused_and_change_nothing(void **state)
{
	static const struct {
		const char *text, *message;
	} bad[] = {
		{ "", "empty rule (expected CODE CONDITION...)" },
		{ "A_TITLE_LONGER_THAN_16", "ae title 'A_TITLE_LONGER_THAN_16' is "
		  "longer than 16 characters" },
		{ "CT\\1", "ae title 'CT\\1' must be printable ASCII without '\\'" },
		{ "CT1 10.0.0", "'10.0.0' is not an IPv4 address or address/prefix" },
		{ "CT1 10.0.0.1/33", "'10.0.0.1/33' is not an IPv4 address or "
		  "address/prefix" },
		{ "CT1 10.0.0.1/", "'10.0.0.1/' is not an IPv4 address or "
		  "address/prefix" },
		{ "CT1 host.example", "'host.example' is not an IPv4 address or "
		  "address/prefix" },
		{ "CT1 \"10.0.0.1", "unterminated quote in 'CT1 \"10.0.0.1'" },
	};
	struct access_list l = {0};
	size_t i;

	(void)state;
	add(&l, "KEEP");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *err = NULL;

		assert_int_equal(access_rule_add(&l, bad[i].text, &err), -EINVAL);
		assert_non_null(err);
		if (strcmp(err, bad[i].message) != 0)
			fail_msg("'%s': got '%s', expected '%s'", bad[i].text, err,
			         bad[i].message);
		free(err);
	}
	assert_int_equal(l.n, 1);
	assert_string_equal(l.rules[0].aetitle, "KEEP");
	access_list_release(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_access__empty_list_admits_everyone),
		cmocka_unit_test(test_access__ae_title_must_be_listed),
		cmocka_unit_test(test_access__addresses_tie_a_title_to_hosts),
		cmocka_unit_test(test_access__star_and_quotes),
		cmocka_unit_test(test_access__bad_lines_are_refused_and_change_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
