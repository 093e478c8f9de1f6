/*
 * test_scanopts.c - unit tests of the Scan Options (0018,0022) parser
 * (src/scanopts.c): every token family, order independence, malformed and
 * hostile input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scanopts.h"

/* The SOMATOM Force value quoted in ../shared/DOMAIN.md (from the seed). */
static const char force_value[] =
	"XOP\\DSEQCARD\\0001\\TRGD\\RSER000001\\RIMA000016\\TP70PC1000\\"
	"OSCRATEMIN060BPM\\OSCRATEMAX060BPM\\OSCRATEAVG060BPM\\"
	"OSCRATEVAR000BPM\\SYNCUSREDIT_NO\\PITADP_AUTO\\PITADPKIND_MONO\\"
	"BESTPHASE_OFF\\FRECONTYPE_TIME\\A4TP000076MS00";

#define assert_nan(x) assert_true(isnan(x))
#define assert_num(x, v) assert_true((x) == (double)(v))

static void assert_same(const struct scanopts *a, const struct scanopts *b)
{
	const double *da[] = {
		&a->hr_min_bpm, &a->hr_max_bpm, &a->hr_avg_bpm, &a->hr_var_bpm,
		&a->phase_percent, &a->rr_interval_ms,
		&a->pulsing_start_percent, &a->pulsing_end_percent,
		&a->best_diastolic_percent,
	};
	const double *db[] = {
		&b->hr_min_bpm, &b->hr_max_bpm, &b->hr_avg_bpm, &b->hr_var_bpm,
		&b->phase_percent, &b->rr_interval_ms,
		&b->pulsing_start_percent, &b->pulsing_end_percent,
		&b->best_diastolic_percent,
	};
	size_t i;

	for (i = 0; i < sizeof(da) / sizeof(da[0]); i++) {
		if (isnan(*da[i]))
			assert_nan(*db[i]);
		else
			assert_num(*db[i], *da[i]);
	}
	assert_int_equal(a->cardiac, b->cardiac);
	assert_int_equal(a->sequential, b->sequential);
	assert_int_equal(a->triggered, b->triggered);
	assert_int_equal(a->tokens, b->tokens);
	assert_int_equal(a->malformed, b->malformed);
	assert_int_equal(a->unknown, b->unknown);
}

static void assert_all_nan(const struct scanopts *o)
{
	assert_nan(o->hr_min_bpm);
	assert_nan(o->hr_max_bpm);
	assert_nan(o->hr_avg_bpm);
	assert_nan(o->hr_var_bpm);
	assert_nan(o->phase_percent);
	assert_nan(o->rr_interval_ms);
	assert_nan(o->pulsing_start_percent);
	assert_nan(o->pulsing_end_percent);
	assert_nan(o->best_diastolic_percent);
}

static void test_scanopts__parses_the_force_value(void **state)
{
	struct scanopts o;

	(void)state;
	scanopts_parse(force_value, &o);
	assert_num(o.hr_min_bpm, 60);
	assert_num(o.hr_max_bpm, 60);
	assert_num(o.hr_avg_bpm, 60);
	assert_num(o.hr_var_bpm, 0);
	assert_num(o.phase_percent, 70);
	assert_num(o.rr_interval_ms, 1000);
	assert_nan(o.pulsing_start_percent);
	assert_nan(o.pulsing_end_percent);
	assert_nan(o.best_diastolic_percent);
	assert_true(o.cardiac);
	assert_true(o.sequential);
	assert_true(o.triggered);
	assert_int_equal(o.tokens, 17);
	assert_int_equal(o.malformed, 0);
	/* XOP 0001 RSER RIMA SYNCUSREDIT PITADP PITADPKIND BESTPHASE
	 * FRECONTYPE A4TP: kept raw by the caller. */
	assert_int_equal(o.unknown, 10);
}

static void test_scanopts__reads_each_heart_rate_token(void **state)
{
	struct scanopts o;

	(void)state;
	scanopts_parse("OSCRATEMIN052BPM", &o);
	assert_num(o.hr_min_bpm, 52);
	assert_true(o.cardiac);
	scanopts_parse("OSCRATEMAX071BPM", &o);
	assert_num(o.hr_max_bpm, 71);
	assert_true(o.cardiac);
	scanopts_parse("OSCRATEAVG064BPM", &o);
	assert_num(o.hr_avg_bpm, 64);
	assert_true(o.cardiac);
	scanopts_parse("OSCRATEVAR012BPM", &o);
	assert_num(o.hr_var_bpm, 12);
	assert_true(o.cardiac);
	assert_false(o.sequential);
	assert_false(o.triggered);
	assert_int_equal(o.tokens, 1);
	assert_int_equal(o.unknown, 0);
	assert_int_equal(o.malformed, 0);
}

static void test_scanopts__strips_zero_padding(void **state)
{
	struct scanopts o;

	(void)state;
	scanopts_parse("OSCRATEAVG007BPM\\OSCRATEMAX0000000000000000105BPM"
	               "\\OSCRATEVAR000BPM\\OSCRATEMIN60BPM", &o);
	assert_num(o.hr_avg_bpm, 7);
	assert_num(o.hr_max_bpm, 105);
	assert_num(o.hr_var_bpm, 0);
	assert_num(o.hr_min_bpm, 60);
	assert_int_equal(o.malformed, 0);
}

static void test_scanopts__reads_trigger_phase_and_rr(void **state)
{
	struct scanopts o;

	(void)state;
	scanopts_parse("TP40PC0857", &o);
	assert_num(o.phase_percent, 40);
	assert_num(o.rr_interval_ms, 857);
	assert_true(o.cardiac);
	assert_int_equal(o.malformed, 0);
}

static void test_scanopts__reads_one_digit_phase(void **state)
{
	struct scanopts o;

	(void)state;
	scanopts_parse("TP0PC0965", &o);
	assert_num(o.phase_percent, 0);
	assert_num(o.rr_interval_ms, 965);
	assert_int_equal(o.malformed, 0);
	scanopts_parse("TP100PC0600", &o);
	assert_num(o.phase_percent, 100);
	assert_num(o.rr_interval_ms, 600);
}

static void test_scanopts__reads_perfusion_phase(void **state)
{
	struct scanopts o;

	(void)state;
	scanopts_parse("A4CS\\PHSP35PC0750", &o);
	assert_num(o.phase_percent, 35);
	assert_num(o.rr_interval_ms, 750);
	assert_true(o.cardiac);
	assert_false(o.sequential);
	assert_false(o.triggered);
	assert_int_equal(o.malformed, 0);
	assert_int_equal(o.unknown, 0);
}

static void test_scanopts__reads_pulsing_window(void **state)
{
	struct scanopts o;

	(void)state;
	scanopts_parse("PULSTART_P0030PC\\PULSEND_P0080PC", &o);
	assert_num(o.pulsing_start_percent, 30);
	assert_num(o.pulsing_end_percent, 80);
	assert_true(o.cardiac);
	assert_int_equal(o.malformed, 0);
	assert_int_equal(o.unknown, 0);
}

static void test_scanopts__accepts_both_pulsing_end_spellings(void **state)
{
	struct scanopts a, b;

	(void)state;
	scanopts_parse("PULSTART_P0060PC\\PULSEND_P0075PC", &a);
	scanopts_parse("PULSTART_P0060PC\\PULSEEND_P0075PC", &b);
	assert_num(a.pulsing_start_percent, 60);
	assert_num(a.pulsing_end_percent, 75);
	assert_same(&a, &b);
}

static void test_scanopts__reads_best_diastolic_phase(void **state)
{
	struct scanopts o;

	(void)state;
	scanopts_parse("BESTPH_D_P0072PC", &o);
	assert_num(o.best_diastolic_percent, 72);
	assert_true(o.cardiac);
	assert_int_equal(o.malformed, 0);
}

static void test_scanopts__reads_mode_flags(void **state)
{
	struct scanopts o;

	(void)state;
	scanopts_parse("DSEQCARD", &o);
	assert_true(o.cardiac);
	assert_true(o.sequential);
	assert_false(o.triggered);
	assert_all_nan(&o);

	scanopts_parse("TRGD", &o);
	assert_true(o.cardiac);
	assert_false(o.sequential);
	assert_true(o.triggered);

	scanopts_parse("A4CS", &o);
	assert_true(o.cardiac);
	assert_false(o.sequential);
	assert_false(o.triggered);
	assert_int_equal(o.unknown, 0);
}

static void test_scanopts__accepts_tokens_in_any_order(void **state)
{
	/* The Force value's tokens, in its own order. */
	const char *tokens[] = {
		"XOP", "DSEQCARD", "0001", "TRGD", "RSER000001", "RIMA000016",
		"TP70PC1000", "OSCRATEMIN060BPM", "OSCRATEMAX060BPM",
		"OSCRATEAVG060BPM", "OSCRATEVAR000BPM", "SYNCUSREDIT_NO",
		"PITADP_AUTO", "PITADPKIND_MONO", "BESTPHASE_OFF",
		"FRECONTYPE_TIME", "A4TP000076MS00", "PULSTART_P0040PC",
		"PULSEEND_P0080PC", "BESTPH_D_P0075PC",
	};
	enum { N = sizeof(tokens) / sizeof(tokens[0]) };
	const char *perm[N];
	struct scanopts ref, o;
	char buf[1024];
	unsigned seed = 12345;
	int round;
	size_t i;

	(void)state;
	memcpy(perm, tokens, sizeof(perm));
	for (round = 0; round < 200; round++) {
		buf[0] = '\0';
		for (i = 0; i < N; i++) {
			if (i > 0)
				strcat(buf, "\\");
			strcat(buf, perm[i]);
		}
		scanopts_parse(buf, &o);
		if (round == 0) {
			ref = o;
			assert_num(ref.hr_avg_bpm, 60);
			assert_num(ref.phase_percent, 70);
			assert_num(ref.pulsing_start_percent, 40);
			assert_num(ref.pulsing_end_percent, 80);
			assert_num(ref.best_diastolic_percent, 75);
			assert_int_equal(ref.tokens, N);
		} else {
			assert_same(&ref, &o);
		}
		/* Fisher-Yates with a fixed LCG: reproducible shuffles. */
		for (i = N - 1; i > 0; i--) {
			size_t j;
			const char *tmp;

			seed = seed * 1103515245u + 12345u;
			j = (seed >> 16) % (i + 1);
			tmp = perm[i];
			perm[i] = perm[j];
			perm[j] = tmp;
		}
	}
}

static void test_scanopts__ignores_surrounding_spaces(void **state)
{
	struct scanopts o;

	(void)state;
	scanopts_parse(" OSCRATEAVG058BPM \\ TRGD\\TP75PC0800 ", &o);
	assert_num(o.hr_avg_bpm, 58);
	assert_num(o.phase_percent, 75);
	assert_num(o.rr_interval_ms, 800);
	assert_true(o.triggered);
	assert_int_equal(o.tokens, 3);
	assert_int_equal(o.unknown, 0);
}

static void test_scanopts__counts_unknown_tokens(void **state)
{
	struct scanopts o;

	(void)state;
	scanopts_parse("HELIX", &o);
	assert_false(o.cardiac);
	assert_int_equal(o.tokens, 1);
	assert_int_equal(o.unknown, 1);
	assert_int_equal(o.malformed, 0);
	assert_all_nan(&o);

	/* Near misses of known names are not known names. */
	scanopts_parse("AXIAL\\HELIX\\TPUMP\\OSCRATEXYZ060BPM\\TRGDX\\"
	               "oscrateavg060bpm\\PHSPX\\DSEQ", &o);
	assert_false(o.cardiac);
	assert_int_equal(o.tokens, 8);
	assert_int_equal(o.unknown, 8);
	assert_int_equal(o.malformed, 0);
	assert_all_nan(&o);
}

static void test_scanopts__rejects_malformed_numbers(void **state)
{
	static const char *const bad[] = {
		"OSCRATEAVG0x5BPM",
		"OSCRATEAVGBPM",
		"OSCRATEAVG99999999999999999999BPM",
		"OSCRATEAVG4294967296BPM",
		"OSCRATEAVG1000000000BPM",
		"OSCRATEAVG-60BPM",
		"OSCRATEAVG+60BPM",
		"OSCRATEAVG 60BPM",
		"OSCRATEAVG060",
		"OSCRATEAVG060BP",
		"OSCRATEAVG",
		"OSCRATEMIN6.5BPM",
		"TPPC1000",
		"TP70PC",
		"TP70PC10x0",
		"TP70PC-100",
		"TP70",
		"TP99999999999PC1000",
		"PHSPPC0750",
		"PHSP35PC",
		"PULSTART_PPC",
		"PULSTART_P0030",
		"PULSEND_P00x0PC",
		"PULSEEND_P-030PC",
		"BESTPH_D_PPC",
		"BESTPH_D_P0072P",
	};
	struct scanopts o;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		scanopts_parse(bad[i], &o);
		assert_int_equal(o.tokens, 1);
		assert_int_equal(o.malformed, 1);
		assert_int_equal(o.unknown, 0);
		assert_all_nan(&o);
	}
}

static void test_scanopts__keeps_good_tokens_next_to_malformed_ones(void **state)
{
	struct scanopts o;

	(void)state;
	scanopts_parse("OSCRATEAVG0x5BPM\\OSCRATEMIN055BPM\\TP70PC\\"
	               "OSCRATEMAX999999999999BPM", &o);
	assert_nan(o.hr_avg_bpm);
	assert_nan(o.hr_max_bpm);
	assert_nan(o.phase_percent);
	assert_nan(o.rr_interval_ms);
	assert_num(o.hr_min_bpm, 55);
	assert_int_equal(o.tokens, 4);
	assert_int_equal(o.malformed, 3);
}

static void test_scanopts__first_token_of_a_family_wins(void **state)
{
	struct scanopts o;

	(void)state;
	scanopts_parse("OSCRATEAVG060BPM\\OSCRATEAVG070BPM", &o);
	assert_num(o.hr_avg_bpm, 60);
	/* A malformed first token does not hide a good second one. */
	scanopts_parse("OSCRATEAVGxBPM\\OSCRATEAVG070BPM", &o);
	assert_num(o.hr_avg_bpm, 70);
	assert_int_equal(o.malformed, 1);
}

static void test_scanopts__handles_null_and_empty_input(void **state)
{
	static const char *const empty[] = {
		"", "\\", "\\\\", "\\\\\\\\", " ", "   \\  \\ ",
	};
	struct scanopts o;
	size_t i;

	(void)state;
	memset(&o, 0x5a, sizeof(o));
	scanopts_parse(NULL, &o);
	assert_all_nan(&o);
	assert_false(o.cardiac);
	assert_false(o.sequential);
	assert_false(o.triggered);
	assert_int_equal(o.tokens, 0);
	assert_int_equal(o.malformed, 0);
	assert_int_equal(o.unknown, 0);

	for (i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		memset(&o, 0x5a, sizeof(o));
		scanopts_parse(empty[i], &o);
		assert_all_nan(&o);
		assert_false(o.cardiac);
		assert_int_equal(o.tokens, 0);
		assert_int_equal(o.unknown, 0);
		assert_int_equal(o.malformed, 0);
	}

	/* Empty values between tokens are skipped, not counted. */
	scanopts_parse("\\\\TRGD\\\\\\OSCRATEAVG061BPM\\", &o);
	assert_true(o.triggered);
	assert_num(o.hr_avg_bpm, 61);
	assert_int_equal(o.tokens, 2);

	/* A NULL output is ignored rather than dereferenced. */
	scanopts_parse(force_value, NULL);
}

static void test_scanopts__cuts_very_long_input(void **state)
{
	size_t big = 3 * SCANOPTS_MAX_VALUE;
	const char tok[] = "OSCRATEAVG0061BPM\\";
	const size_t toklen = sizeof(tok) - 1;
	struct scanopts o;
	char *s;
	size_t i, rem;

	(void)state;

	/* One huge token: cut at the limit, read as a single unknown. */
	s = malloc(big + 1);
	assert_non_null(s);
	memset(s, 'A', big);
	s[big] = '\0';
	scanopts_parse(s, &o);
	assert_int_equal(o.tokens, 1);
	assert_int_equal(o.unknown, 1);

	/* A huge zero-padded number: malformed, no overflow. */
	memcpy(s, "OSCRATEAVG", 10);
	memset(s + 10, '9', big - 10);
	scanopts_parse(s, &o);
	assert_int_equal(o.malformed, 1);
	assert_nan(o.hr_avg_bpm);

	/* Many tokens: only those within the first SCANOPTS_MAX_VALUE bytes
	 * are seen; the one the limit cuts through is malformed. */
	for (i = 0; i + toklen <= big; i += toklen)
		memcpy(s + i, tok, toklen);
	s[i] = '\0';
	scanopts_parse(s, &o);
	assert_num(o.hr_avg_bpm, 61);
	assert_int_equal(o.tokens,
	                 (SCANOPTS_MAX_VALUE + toklen - 1) / toklen);
	rem = SCANOPTS_MAX_VALUE % toklen;
	assert_int_equal(o.malformed, rem > 0 && rem < toklen - 1 ? 1 : 0);

	/* Not NUL-terminated within the limit: no byte past it is read
	 * (checked by the sanitizers with an exact-size allocation). */
	free(s);
	s = malloc(SCANOPTS_MAX_VALUE);
	assert_non_null(s);
	memset(s, '\\', SCANOPTS_MAX_VALUE);
	scanopts_parse(s, &o);
	assert_int_equal(o.tokens, 0);
	free(s);
}

static void test_scanopts__survives_arbitrary_bytes(void **state)
{
	unsigned seed = 1;
	char buf[64];
	struct scanopts o;
	int round;
	size_t i;

	(void)state;
	for (round = 0; round < 20000; round++) {
		size_t len;

		seed = seed * 1103515245u + 12345u;
		len = (seed >> 16) % (sizeof(buf) - 1);
		for (i = 0; i < len; i++) {
			static const char alphabet[] =
				"TPC0123456789\\ OSCRATEAVGBPMHULSND_\xff\x80";

			seed = seed * 1103515245u + 12345u;
			buf[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		buf[len] = '\0';
		scanopts_parse(buf, &o);
		assert_true(o.malformed + o.unknown <= o.tokens);
		assert_true(o.tokens <= len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scanopts__parses_the_force_value),
		cmocka_unit_test(test_scanopts__reads_each_heart_rate_token),
		cmocka_unit_test(test_scanopts__strips_zero_padding),
		cmocka_unit_test(test_scanopts__reads_trigger_phase_and_rr),
		cmocka_unit_test(test_scanopts__reads_one_digit_phase),
		cmocka_unit_test(test_scanopts__reads_perfusion_phase),
		cmocka_unit_test(test_scanopts__reads_pulsing_window),
		cmocka_unit_test(test_scanopts__accepts_both_pulsing_end_spellings),
		cmocka_unit_test(test_scanopts__reads_best_diastolic_phase),
		cmocka_unit_test(test_scanopts__reads_mode_flags),
		cmocka_unit_test(test_scanopts__accepts_tokens_in_any_order),
		cmocka_unit_test(test_scanopts__ignores_surrounding_spaces),
		cmocka_unit_test(test_scanopts__counts_unknown_tokens),
		cmocka_unit_test(test_scanopts__rejects_malformed_numbers),
		cmocka_unit_test(test_scanopts__keeps_good_tokens_next_to_malformed_ones),
		cmocka_unit_test(test_scanopts__first_token_of_a_family_wins),
		cmocka_unit_test(test_scanopts__handles_null_and_empty_input),
		cmocka_unit_test(test_scanopts__cuts_very_long_input),
		cmocka_unit_test(test_scanopts__survives_arbitrary_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
