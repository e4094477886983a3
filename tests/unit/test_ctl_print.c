/*
 * tuntunctl's printers, rendered into a memory stream: the sample status of
 * the protocol document must give the expected rows and human units, and
 * missing, mistyped or hostile fields must print as "-" without crashing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_print.h"

static const char sample_client[] =
    "{\"ok\":true,\"role\":\"client\",\"version\":\"0.1.0\","
    "\"uptime_s\":3725.5,"
    "\"tun\":{\"name\":\"ttt0\",\"mtu\":1420},"
    "\"session\":{\"id\":\"3a9f01c2\",\"state\":\"established\","
    "\"crypto\":\"encrypt\"},"
    "\"scheduler\":{\"upstream\":{\"plugin\":\"weighted\",\"version\":\"1\","
    "\"picks\":123,\"faults\":0,\"drops\":2,\"state\":{\"w\":[3,1]}},"
    "\"downstream\":{\"plugin\":\"lowest-rtt\"}},"
    "\"links\":[{\"name\":\"a\",\"id\":0,\"state\":\"up\",\"peer\":"
    "\"10.1.0.1:5800\",\"srtt_ms\":20.1,\"rttvar_ms\":1.2,\"jitter_ms\":0.4,"
    "\"loss_pct\":0.0,\"mtu\":1500,\"tx_packets\":100,\"tx_bytes\":150000,"
    "\"rx_packets\":90,\"rx_bytes\":120000,\"tx_bps\":12000000,"
    "\"rx_bps\":800000,\"errors\":0,\"metered\":false,\"backup\":false,"
    "\"quota_bytes\":0,\"quota_used_bytes\":0},"
    "{\"name\":\"lte-long-name\",\"id\":1,\"state\":\"degraded\","
    "\"srtt_ms\":85.25,\"jitter_ms\":12.0,\"loss_pct\":7.5,"
    "\"tx_packets\":1234567,\"tx_bytes\":1288490188,\"rx_packets\":5,"
    "\"tx_bps\":25500000,\"rx_bps\":0,\"errors\":3,\"metered\":true,"
    "\"quota_bytes\":5368709120,\"quota_used_bytes\":1288490188}],"
    "\"reorder\":{\"enabled\":true,\"delivered\":100,\"held\":3,"
    "\"reordered\":3,\"late\":0,\"duplicates\":0,\"lost\":1,"
    "\"hold_ms\":12.5,\"held_now\":2}}";

static const char sample_server[] =
    "{\"ok\":true,\"role\":\"server\",\"version\":\"0.1.0\","
    "\"sessions\":[{\"client\":\"laptop\",\"id\":\"77aa\",\"links\":["
    "{\"name\":\"dsl\",\"state\":\"up\",\"srtt_ms\":10,\"tx_bytes\":2048}],"
    "\"reorder\":{\"enabled\":false}},"
    "{\"client\":\"phone\",\"id\":\"88bb\",\"links\":[]}]}";

/* Renders with fn into a malloc'ed string. */
static char *render(void (*fn)(FILE *, const json_t *), const char *json)
{
	json_error_t jerr;
	json_t *j = json_loads(json, JSON_DECODE_ANY, &jerr);
	assert_non_null(j);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	fn(f, j);
	assert_int_equal(fclose(f), 0);
	json_decref(j);
	return buf;
}

static void assert_has(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("output lacks \"%s\":\n%s", needle, hay);
}

/* The line of `out` containing `needle` (copied into line). */
static void line_with(const char *out, const char *needle, char *line, size_t n)
{
	const char *p = strstr(out, needle);
	if (!p)
		fail_msg("no line with \"%s\":\n%s", needle, out);
	if (*p == '\n') /* a needle anchored at a line start */
		p++;
	while (p > out && p[-1] != '\n')
		p--;
	const char *e = strchr(p, '\n');
	size_t l = e ? (size_t)(e - p) : strlen(p);
	assert_true(l < n);
	memcpy(line, p, l);
	line[l] = 0;
}

static void test_fmt_bytes(void **state)
{
	char b[32];
	ctl_print_fmt_bytes(b, sizeof(b), 0);
	assert_string_equal(b, "0 B");
	ctl_print_fmt_bytes(b, sizeof(b), 1023);
	assert_string_equal(b, "1023 B");
	ctl_print_fmt_bytes(b, sizeof(b), 1024);
	assert_string_equal(b, "1.0 KiB");
	ctl_print_fmt_bytes(b, sizeof(b), 150000);
	assert_string_equal(b, "146.5 KiB");
	ctl_print_fmt_bytes(b, sizeof(b), 1.2 * 1024 * 1024);
	assert_string_equal(b, "1.2 MiB");
	ctl_print_fmt_bytes(b, sizeof(b), 5368709120.0);
	assert_string_equal(b, "5.0 GiB");
	ctl_print_fmt_bytes(b, sizeof(b), 1e21);
	assert_string_equal(b, "888178.4 PiB");
	ctl_print_fmt_bytes(b, sizeof(b), -5);
	assert_string_equal(b, "0 B");
}

static void test_fmt_duration(void **state)
{
	char b[32];
	ctl_print_fmt_duration(b, sizeof(b), 12.5);
	assert_string_equal(b, "12s");
	ctl_print_fmt_duration(b, sizeof(b), 725);
	assert_string_equal(b, "12m05s");
	ctl_print_fmt_duration(b, sizeof(b), 3725.5);
	assert_string_equal(b, "1h02m");
	ctl_print_fmt_duration(b, sizeof(b), 2 * 86400 + 4 * 3600 + 5);
	assert_string_equal(b, "2d04h");
	ctl_print_fmt_duration(b, sizeof(b), -1);
	assert_string_equal(b, "0s");
}

/* The tun line says whether offloads are on, when the daemon says. */
static void test_status_offload(void **state)
{
	char *out = render(ctl_print_status,
			   "{\"role\":\"client\",\"tun\":{\"name\":\"ttt0\","
			   "\"mtu\":1432,\"offload\":{\"on\":true,"
			   "\"udp_gro\":true}}}");
	assert_has(out, "tun:        ttt0, mtu 1432, offload on, UDP GRO\n");
	free(out);
	out = render(ctl_print_status,
		     "{\"role\":\"client\",\"tun\":{\"name\":\"ttt0\","
		     "\"mtu\":1432,\"offload\":{\"on\":false,"
		     "\"udp_gro\":false}}}");
	assert_has(out, "tun:        ttt0, mtu 1432, offload off\n");
	free(out);
	(void)state;
}

/* The key epoch (rekeys) shows on the session lines when the daemon
 * reports it, and older reports print as before. */
static void test_status_key_epoch(void **state)
{
	char *out = render(ctl_print_status,
			   "{\"role\":\"client\",\"session\":{\"id\":\"ab\","
			   "\"state\":\"established\",\"crypto\":\"encrypt\","
			   "\"key_epoch\":7,\"rekeys\":7}}");
	assert_has(out, "session:    ab, established, crypto encrypt, key "
			"epoch 7\n");
	free(out);
	out = render(
	    ctl_print_status,
	    "{\"role\":\"server\",\"sessions\":[{\"client\":\"laptop\","
	    "\"id\":\"cd\",\"state\":\"established\",\"key_epoch\":3}]}");
	assert_has(out, "session laptop (id cd, established, key epoch 3)\n");
	free(out);
	(void)state;
}

static void print_wide(FILE *f, const json_t *st)
{
	ctl_print_status_opts(f, st, CTL_PRINT_WIDE);
}

static void test_status_client(void **state)
{
	char *out = render(print_wide, sample_client);
	char line[512];
	assert_has(out, "role:       client\n");
	assert_has(out, "version:    0.1.0\n");
	assert_has(out, "uptime:     1h02m\n");
	assert_has(out, "tun:        ttt0, mtu 1420\n");
	assert_has(out, "session:    3a9f01c2, established, crypto encrypt\n");
	assert_has(out,
		   "upstream:   weighted v1: 123 picks, 0 faults, 2 drops");
	assert_has(out, "\n            w: 3, 1\n"); /* dump as key: value */
	assert_null(strchr(out, '{'));
	assert_has(out, "downstream: lowest-rtt\n");
	assert_has(out, "reorder:    hold 12.5 ms, 2 held now, 100 delivered, "
			"3 reordered, 0 late,\n"
			"            0 duplicates, 1 lost\n");

	line_with(out, "NAME", line, sizeof(line));
	assert_has(line, "STATE");
	assert_has(line, "TX Mbit/s");
	assert_has(line, "TX BYTES");
	assert_has(line, "ERRORS");

	line_with(out, "\na ", line, sizeof(line));
	assert_has(line, "up");
	assert_has(line, "20.1 ms");
	assert_has(line, "0.4 ms");
	assert_has(line, "0.0%");
	assert_has(line, "12.00");
	assert_has(line, "0.80");
	assert_has(line, "146.5 KiB");

	line_with(out, "lte-long-name", line, sizeof(line));
	assert_has(line, "degraded");
	assert_has(line, "85.2 ms"); /* %.1f of 85.25 */
	assert_has(line, "7.5%");
	assert_has(line, "25.50");
	assert_has(line, "1234567");
	assert_has(line, "1.2 GiB");
	assert_has(line, "metered, quota 1.2 GiB of 5.0 GiB");
	free(out);
}

/* Columns line up: every cell starts at the same offset in each row. */
static void test_status_columns_aligned(void **state)
{
	char *out = render(print_wide, sample_client);
	char head[512], r1[512], r2[512];
	line_with(out, "NAME", head, sizeof(head));
	line_with(out, "\na ", r1, sizeof(r1));
	line_with(out, "lte-long-name", r2, sizeof(r2));
	/* STATE starts where the longest name plus two spaces ends */
	size_t col = strlen("lte-long-name") + 2;
	assert_int_equal(strstr(head, "STATE") - head, col);
	assert_int_equal(strstr(r1, "up") - r1, col);
	assert_int_equal(strstr(r2, "degraded") - r2, col);
	/* right-aligned numbers end at the same column as their header */
	const char *h = strstr(head, "TX PKTS") + strlen("TX PKTS");
	const char *a = strstr(r1, " 100 ") + 4;
	const char *b = strstr(r2, "1234567") + 7;
	assert_int_equal(h - head, a - r1);
	assert_int_equal(h - head, b - r2);
	free(out);
}

static void test_status_server(void **state)
{
	char *out = render(print_wide, sample_server);
	char line[512];
	assert_has(out, "role:       server\n");
	assert_has(out, "session laptop (id 77aa)\n");
	assert_has(out, "  reorder:  off\n");
	line_with(out, "  dsl", line, sizeof(line));
	assert_has(line, "10.0 ms");
	assert_has(line, "2.0 KiB");
	assert_has(out, "session phone (id 88bb)\n");
	assert_has(out, "  (no links)\n");
	/* a server has no top-level links table */
	assert_null(strstr(out, "\n(no links)"));
	free(out);
}

/* Missing and mistyped fields print "-"; nothing crashes. */
static void test_status_missing_fields(void **state)
{
	char *out = render(ctl_print_status, "{\"ok\":true}");
	assert_has(out, "role:       -\n");
	assert_has(out, "uptime:     -\n");
	assert_has(out, "tun:        -, mtu -\n");
	assert_has(out, "upstream:   -\n");
	assert_has(out, "(no links)");
	free(out);

	out = render(ctl_print_status,
		     "{\"role\":7,\"uptime_s\":\"long\",\"tun\":[],"
		     "\"scheduler\":{\"upstream\":\"x\"},\"reorder\":5,"
		     "\"links\":[{\"name\":\"x\"},3,{\"state\":{}},"
		     "{\"name\":\"e\\u001b[31m\",\"srtt_ms\":\"fast\"}]}");
	char line[512];
	assert_has(out, "role:       7\n");
	assert_has(out, "uptime:     -\n");
	line_with(out, "\nx ", line, sizeof(line));
	/* every metric of link x is missing */
	assert_int_equal(strspn(line, "x- "), strlen(line));
	/* escape characters from the daemon never reach the terminal */
	assert_null(strchr(out, '\x1b'));
	assert_has(out, "e?[31m");
	free(out);

	out = render(ctl_print_status, "[1,2]");
	assert_has(out, "role:       -\n");
	free(out);
	out = render(ctl_print_status, "{\"sessions\":\"many\"}");
	assert_has(out, "sessions:   none\n");
	free(out);
}

/* Loss recovery: the session's line, a line for each link that lost or
 * resent anything, none for a clean link; "off" when disabled. */
static void test_status_recovery(void **state)
{
	(void)state;
	static const char on[] =
	    "{\"role\":\"server\",\"sessions\":[{\"client\":\"c\",\"id\":"
	    "\"1\",\"recovery\":{\"enabled\":true,\"budget_pct\":10,"
	    "\"resent\":12,\"resent_bytes\":18000,\"over_budget\":1,"
	    "\"too_old\":2},\"links\":[{\"name\":\"lte\",\"recovery\":{"
	    "\"losses\":13,\"recovered\":12,\"recovered_late\":1,"
	    "\"nacks_sent\":9,\"nacks_received\":0,\"retx_packets\":0,"
	    "\"retx_bytes\":0}},{\"name\":\"dsl\",\"recovery\":{"
	    "\"losses\":0,\"nacks_received\":0,\"retx_packets\":0}}]}]}";
	char *out = render(ctl_print_status, on);
	assert_has(out,
		   "  recovery: 12 resent (17.6 KiB), 1 over budget, 2 too "
		   "old; budget 10%\n");
	assert_has(out, "    lte: 13 lost, 12 recovered, 1 too late; NACKs 9 "
			"sent, 0 received; resent on it 0 B\n");
	assert_null(strstr(out, "dsl:"));
	free(out);
	out = render(ctl_print_status,
		     "{\"role\":\"server\",\"sessions\":[{\"client\":\"c\","
		     "\"id\":\"1\",\"recovery\":{\"enabled\":false},"
		     "\"links\":[]}]}");
	assert_has(out, "  recovery: off\n");
	free(out);
}

static void test_plugins(void **state)
{
	char *out =
	    render(ctl_print_plugins,
		   "{\"ok\":true,\"plugins\":["
		   "{\"name\":\"weighted\",\"file\":\"plugins.d/weighted.so\","
		   "\"version\":\"1\",\"description\":\"weights per link\","
		   "\"loaded\":true,\"error\":null},"
		   "{\"name\":\"broken\",\"file\":\"plugins.d/broken.so\","
		   "\"loaded\":false,\"error\":\"bad magic 0x0\"},"
		   "{\"file\":\"x.so\"}]}");
	char line[512];
	line_with(out, "NAME", line, sizeof(line));
	assert_has(line, "VERSION");
	assert_has(line, "DESCRIPTION");
	line_with(out, "weighted ", line, sizeof(line));
	assert_has(line, "yes");
	assert_has(line, "plugins.d/weighted.so");
	assert_has(line, "weights per link");
	line_with(out, "broken ", line, sizeof(line));
	assert_has(line, "no");
	assert_has(line, "REFUSED: bad magic 0x0");
	line_with(out, "x.so", line, sizeof(line));
	assert_int_equal(line[0], '-');
	free(out);

	out = render(ctl_print_plugins, "{\"ok\":true}");
	assert_string_equal(out, "(no plugins)\n");
	free(out);
}

static void test_derive_rates(void **state)
{
	json_error_t jerr;
	json_t *prev = json_loads(
	    "{\"links\":[{\"name\":\"a\",\"tx_bytes\":1000,\"rx_bytes\":0},"
	    "{\"name\":\"b\",\"tx_bytes\":500,\"rx_bytes\":100}],"
	    "\"sessions\":[{\"client\":\"c\",\"links\":[{\"name\":\"a\","
	    "\"tx_bytes\":0}]}]}",
	    0, &jerr);
	json_t *cur = json_loads(
	    "{\"links\":[{\"name\":\"a\",\"tx_bytes\":126000,"
	    "\"rx_bytes\":250},{\"name\":\"b\",\"tx_bytes\":100,"
	    "\"rx_bytes\":200,\"rx_bps\":42},{\"name\":\"new\","
	    "\"tx_bytes\":9}],"
	    "\"sessions\":[{\"client\":\"c\",\"links\":[{\"name\":\"a\","
	    "\"tx_bytes\":1000}]}]}",
	    0, &jerr);
	assert_non_null(prev);
	assert_non_null(cur);
	/* a: tx and rx; b: tx counter went backwards (reset), rx given;
	 * new: no previous sample; session c's a: tx */
	assert_int_equal(ctl_print_derive_rates(cur, prev, 0.5), 3);
	json_t *links = json_object_get(cur, "links");
	json_t *a = json_array_get(links, 0), *b = json_array_get(links, 1);
	assert_float_equal(json_number_value(json_object_get(a, "tx_bps")),
			   125000.0 * 8 / 0.5, 1e-6);
	assert_float_equal(json_number_value(json_object_get(a, "rx_bps")),
			   250.0 * 8 / 0.5, 1e-6);
	assert_null(json_object_get(b, "tx_bps"));
	assert_int_equal(json_integer_value(json_object_get(b, "rx_bps")), 42);
	json_t *sa = json_array_get(
	    json_object_get(json_array_get(json_object_get(cur, "sessions"), 0),
			    "links"),
	    0);
	assert_float_equal(json_number_value(json_object_get(sa, "tx_bps")),
			   16000.0, 1e-6);
	/* no interval, no rates */
	assert_int_equal(ctl_print_derive_rates(cur, prev, 0), 0);
	assert_int_equal(ctl_print_derive_rates(cur, NULL, 1), 0);
	json_decref(prev);
	json_decref(cur);
}

/* A busy two-link client as a real daemon reports it: long counters, a
 * metered link with quota and errors, a nested plugin dump, a session with
 * cipher and age. */
static const char busy_client[] =
    "{\"ok\":true,\"role\":\"client\",\"version\":\"0.1.0\","
    "\"uptime_s\":1234567.0,\"server\":\"[2001:db8:ffff:ffff:ffff:ffff:"
    "ffff:ffff]:5800\","
    "\"tun\":{\"name\":\"ttt0\",\"mtu\":1420},"
    "\"session\":{\"id\":\"3a9f01c2\",\"state\":\"established\","
    "\"crypto\":\"encrypt\",\"cipher\":\"chacha20-poly1305\","
    "\"age_s\":302.5,\"handshake_ago_s\":302.5,\"handshake_at\":"
    "1700000000},"
    "\"scheduler\":{\"upstream\":{\"plugin\":\"metered-overflow\","
    "\"version\":\"1.0\",\"picks\":123456789012,\"faults\":12345678,"
    "\"drops\":98765432,\"state\":{\"period\":{\"start\":1700000000,"
    "\"used\":[123456789,987654321]},\"names\":[\"dsl-primary-line\","
    "\"lte-backup-modem\"],\"note\":\"a long string that goes on and on "
    "and on past any reasonable terminal width for sure\"}},"
    "\"downstream\":{\"plugin\":\"lowest-rtt\",\"asked\":\"earliest-"
    "arrival\"}},"
    "\"links\":[{\"name\":\"dsl-primary-line\",\"state\":\"degraded\","
    "\"srtt_ms\":1234.56,\"jitter_ms\":987.6,\"loss_pct\":100.0,"
    "\"tx_packets\":123456789012,\"tx_bytes\":123456789012345,"
    "\"rx_packets\":123456789012,\"rx_bytes\":123456789012345,"
    "\"tx_bps\":1234567890,\"rx_bps\":1234567890,\"errors\":123456,"
    "\"metered\":true,\"backup\":true,\"admin_down\":true,"
    "\"quota_bytes\":5368709120000,\"quota_used_bytes\":1288490188000},"
    "{\"name\":\"lte-backup-modem-with-a-long-name\",\"state\":\"up\","
    "\"srtt_ms\":85.25,\"jitter_ms\":12.0,\"loss_pct\":7.5,"
    "\"tx_packets\":1,\"tx_bytes\":1,\"rx_packets\":5,\"rx_bytes\":9,"
    "\"tx_bps\":25500000,\"rx_bps\":0,\"errors\":0}],"
    "\"reorder\":{\"enabled\":true,\"delivered\":123456789012,"
    "\"held\":123456789012,\"reordered\":123456789012,\"late\":"
    "123456789012,\"duplicates\":123456789012,\"lost\":123456789012,"
    "\"hold_ms\":1234.5,\"held_now\":4096}}";

static const char busy_server[] =
    "{\"ok\":true,\"role\":\"server\",\"version\":\"0.1.0\","
    "\"sessions\":[{\"client\":\"a-client-name-of-thirty-one-ch\","
    "\"id\":\"77aa00ff\",\"state\":\"established\",\"cipher\":"
    "\"aes-256-gcm\",\"age_s\":90000,\"handshake_ago_s\":90000,"
    "\"handshake_at\":1700000000,\"links\":["
    "{\"name\":\"dsl-primary-line\",\"state\":\"up\",\"srtt_ms\":10,"
    "\"tx_bytes\":2048,\"tx_bps\":1e9,\"rx_bps\":1e9,\"errors\":7}],"
    "\"reorder\":{\"enabled\":true,\"delivered\":99999999999}}]}";

/* Every line of the default output fits 80 columns; --wide may not. */
static void assert_fits(const char *out, size_t width)
{
	const char *p = out;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len > width)
			fail_msg("%zu columns: \"%.*s\"", len, (int)len, p);
		p += len + (nl ? 1 : 0);
	}
}

static void test_status_fits_80(void **state)
{
	char *out = render(ctl_print_status, busy_client);
	assert_fits(out, 80);
	/* nothing is lost by fitting: the essentials are all there */
	assert_has(out, "server:     [2001:db8:");
	assert_has(out, "session:    3a9f01c2, established, crypto encrypt "
			"chacha20-poly1305\n");
	assert_has(out, "            up 5m02s, last handshake ");
	assert_has(out, "(5m02s ago)\n");
	assert_has(out, "downstream: lowest-rtt (server default; asked for "
			"earliest-arrival)\n");
	assert_has(out, "period.used: 123456789, 987654321\n");
	assert_has(out, "4096 held now");
	assert_has(out, "lte-backup-mode~"); /* cut names keep the table */
	assert_has(out,
		   "  dsl-primary-line: 123456 errors, admin down, metered, "
		   "backup,\n            quota 1.2 TiB of 4.9 TiB\n");
	assert_null(strstr(out, "TX PKTS")); /* counts are --wide's */
	assert_null(strchr(out, '{'));
	assert_null(strstr(out, "[1"));
	free(out);
	out = render(ctl_print_status, busy_server);
	assert_fits(out, 80);
	assert_has(out, "  session:  up 1d01h, last handshake ");
	assert_has(out, "aes-256-gcm\n");
	free(out);
	/* control: the same fixture with --wide is wider, so the check above
	 * does measure something */
	out = render(print_wide, busy_client);
	assert_has(out, "TX PKTS");
	assert_has(out, "123456789012");
	const char *nl = strchr(strstr(out, "NAME"), '\n');
	assert_true(nl - strstr(out, "NAME") > 80);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fmt_bytes),
	    cmocka_unit_test(test_fmt_duration),
	    cmocka_unit_test(test_status_client),
	    cmocka_unit_test(test_status_key_epoch),
	    cmocka_unit_test(test_status_offload),
	    cmocka_unit_test(test_status_columns_aligned),
	    cmocka_unit_test(test_status_server),
	    cmocka_unit_test(test_status_missing_fields),
	    cmocka_unit_test(test_status_recovery),
	    cmocka_unit_test(test_plugins),
	    cmocka_unit_test(test_derive_rates),
	    cmocka_unit_test(test_status_fits_80),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
