/*
 * Unit tests of the Prometheus text rendering (core/ctl/metrics.c): names,
 * types and units, label escaping of a link name with a quote, a backslash
 * and a newline, the RTT histogram's cumulative buckets, a server's client
 * labels, and a small parser of the exposition format run over every
 * output, so a malformed line or a family split in two fails the test.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl/metrics.h"

static json_t *parse(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	if (!j)
		print_error("bad test JSON: %s at %d\n", je.text, je.line);
	assert_non_null(j);
	return j;
}

static char *render(const char *json)
{
	json_t *j = parse(json);
	size_t len = 0;
	char *t = metrics_render(j, &len);
	json_decref(j);
	assert_non_null(t);
	assert_int_equal(strlen(t), len);
	return t;
}

static void has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n'))
			return;
	print_error("missing line: %s\nin:\n%s\n", line, text);
	fail();
}

static int count(const char *text, const char *sub)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, sub)); p += strlen(sub))
		n++;
	return n;
}

/* Checks the exposition format line by line: # HELP/# TYPE, then samples
 * `name{label="value",...} number`; each family has one TYPE line, its
 * samples right after it; label values only use the three escapes. */
static void check_format(const char *text)
{
	char families[256][96];
	int n_fam = 0;
	char cur[96] = "";
	const char *p = text;
	assert_true(*text);
	assert_true(text[strlen(text) - 1] == '\n');
	while (*p) {
		const char *eol = strchr(p, '\n');
		assert_non_null(eol);
		char line[1024];
		size_t n = (size_t)(eol - p);
		assert_true(n < sizeof(line));
		memcpy(line, p, n);
		line[n] = 0;
		p = eol + 1;
		if (strncmp(line, "# HELP ", 7) == 0)
			continue;
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char name[96], type[32];
			assert_int_equal(
			    sscanf(line + 7, "%95s %31s", name, type), 2);
			assert_true(!strcmp(type, "counter") ||
				    !strcmp(type, "gauge") ||
				    !strcmp(type, "histogram"));
			if (!strcmp(type, "counter"))
				assert_non_null(strstr(name, "_total"));
			for (int i = 0; i < n_fam; i++)
				if (!strcmp(families[i], name)) {
					print_error("family %s twice\n", name);
					fail();
				}
			assert_true(n_fam < 256);
			strcpy(families[n_fam++], name);
			strcpy(cur, name);
			continue;
		}
		/* a sample: the name ... */
		const char *q = line;
		assert_true(isalpha((unsigned char)*q) || *q == '_');
		while (isalnum((unsigned char)*q) || *q == '_' || *q == ':')
			q++;
		size_t nl = (size_t)(q - line);
		/* ... belongs to the family just declared (histogram suffixes)
		 */
		size_t fl = strlen(cur);
		assert_true(fl > 0 && nl >= fl && !strncmp(line, cur, fl));
		const char *suf = line + fl;
		assert_true(suf == q || !strncmp(suf, "_bucket", 7) ||
			    !strncmp(suf, "_sum", 4) ||
			    !strncmp(suf, "_count", 6));
		/* ... labels ... */
		if (*q == '{') {
			q++;
			for (;;) {
				assert_true(isalpha((unsigned char)*q) ||
					    *q == '_');
				while (isalnum((unsigned char)*q) || *q == '_')
					q++;
				assert_true(q[0] == '=' && q[1] == '"');
				q += 2;
				while (*q != '"') {
					assert_true(*q && *q != '\n');
					if (*q == '\\') {
						q++;
						assert_true(*q == '\\' ||
							    *q == '"' ||
							    *q == 'n');
					}
					q++;
				}
				q++;
				if (*q == ',') {
					q++;
					continue;
				}
				assert_true(*q == '}');
				q++;
				break;
			}
		}
		/* ... and one value. */
		assert_true(*q == ' ');
		q++;
		char *end;
		if (strcmp(q, "+Inf") && strcmp(q, "-Inf") &&
		    strcmp(q, "NaN")) {
			strtod(q, &end);
			assert_true(end != q && *end == 0);
		}
	}
}

static const char *client_status =
    "{\"schema_version\":1,\"role\":\"client\",\"version\":\"0.1.0\","
    "\"uptime_s\":12.5,\"tun\":{\"name\":\"ttt0\",\"mtu\":1428},"
    "\"counters\":{\"tun_rx_packets\":10,\"tun_tx_packets\":20,"
    "\"tun_rx_dropped\":0,\"rx_bad\":1,\"rx_unknown_session\":0,"
    "\"rx_truncated\":0},"
    "\"session\":{\"id\":\"0000abcd\",\"state\":\"established\","
    "\"counters\":{\"rx_auth_fail\":3,\"rx_replay\":0,\"rx_bad\":0,"
    "\"rx_spoofed\":0,\"tx_drops\":7,\"tun_write_errors\":0,"
    "\"tx_too_big\":0}},"
    "\"links\":["
    " {\"name\":\"a\",\"state\":\"up\",\"srtt_ms\":20.5,\"rttvar_ms\":1.25,"
    "  \"jitter_ms\":0.5,\"loss_pct\":2.5,\"mtu\":1500,\"tx_packets\":100,"
    "  \"tx_bytes\":123456789012,\"rx_packets\":90,\"rx_bytes\":5000,"
    "  \"errors\":0,\"metered\":false,\"admin_down\":false,"
    "  \"rate_bps\":8000000,\"quota_bytes\":0,\"quota_used_bytes\":0,"
    "  \"probe\":{\"sent\":50,\"replies\":49,\"lost\":1,\"suspects\":0,"
    "   \"last_heard_ago_s\":0.05},"
    "  \"rtt_hist\":{\"le_ms\":[1,5,300],\"counts\":[0,2,3,1],"
    "   \"sum_ms\":1500.5,\"count\":6}},"
    " {\"name\":\"we\\\"ird\\\\na\\nme\",\"state\":\"down\","
    "  \"admin_down\":true,\"tx_bytes\":0,"
    "  \"probe\":{\"last_heard_ago_s\":-1}}],"
    "\"reorder\":{\"enabled\":true,\"delivered\":5,\"hold_ms\":5.0,"
    "\"recovery_waits\":2,\"lagging_waits\":3},"
    "\"scheduler\":{\"upstream\":{\"plugin\":\"roundrobin\","
    " \"dir\":\"upstream\",\"picks\":42,\"faults\":0,\"drops\":0,"
    " \"fallbacks\":0},\"downstream\":{\"plugin\":\"roundrobin\"}}}";

static void test_client_names_types_units(void **state)
{
	(void)state;
	/* reorder sits in session for the scope, as status_json nests it */
	json_t *j = parse(client_status);
	json_object_set(json_object_get(j, "session"), "reorder",
			json_object_get(j, "reorder"));
	size_t len;
	char *t = metrics_render(j, &len);
	json_decref(j);
	assert_non_null(t);
	check_format(t);
	has_line(t, "# TYPE ttt_link_tx_bytes_total counter");
	has_line(t, "ttt_link_tx_bytes_total{link=\"a\"} 123456789012");
	has_line(t, "# TYPE ttt_link_srtt_seconds gauge");
	has_line(t, "ttt_link_srtt_seconds{link=\"a\"} 0.0205");
	has_line(t, "ttt_link_rttvar_seconds{link=\"a\"} 0.00125");
	has_line(t, "ttt_link_loss_ratio{link=\"a\"} 0.025");
	has_line(t, "ttt_link_rate_ceiling_bytes_per_second{link=\"a\"} "
		    "1000000");
	has_line(t, "ttt_link_state{link=\"a\"} 2");
	has_line(t, "ttt_link_admin_down{link=\"a\"} 0");
	has_line(t, "ttt_link_probes_lost_total{link=\"a\"} 1");
	has_line(t, "ttt_link_last_heard_seconds{link=\"a\"} 0.05");
	has_line(t, "ttt_session_established 1");
	has_line(t, "ttt_session_tx_drops_total 7");
	has_line(t, "ttt_session_rx_auth_failures_total 3");
	has_line(t, "ttt_reorder_delivered_total 5");
	has_line(t, "ttt_reorder_hold_seconds 0.005");
	has_line(t, "ttt_reorder_recovery_waits_total 2");
	has_line(t, "ttt_reorder_lagging_waits_total 3");
	has_line(t, "ttt_scheduler_picks_total{direction=\"upstream\","
		    "plugin=\"roundrobin\"} 42");
	has_line(t, "ttt_info{role=\"client\",version=\"0.1.0\"} 1");
	has_line(t, "ttt_uptime_seconds 12.5");
	has_line(t, "ttt_tun_mtu_bytes 1428");
	has_line(t, "ttt_tun_tx_packets_total 20");
	has_line(t, "ttt_rx_bad_total 1");
	/* server-only counters absent on a client; no sessions gauge */
	assert_null(strstr(t, "ttt_hello_"));
	assert_null(strstr(t, "ttt_sessions "));
	assert_null(strstr(t, "client=\""));
	free(t);
}

static void test_label_escaping(void **state)
{
	(void)state;
	char *t = render(client_status);
	check_format(t);
	/* we"ird\na<LF>me -> we\"ird\\na\nme */
	has_line(t, "ttt_link_state{link=\"we\\\"ird\\\\na\\nme\"} 0");
	has_line(t, "ttt_link_admin_down{link=\"we\\\"ird\\\\na\\nme\"} 1");
	/* -1 ("never heard") is not a number of seconds: left out */
	assert_int_equal(count(t, "ttt_link_last_heard_seconds{"), 1);
	free(t);

	char buf[64];
	assert_int_equal(metrics_escape_label(buf, sizeof(buf), "a\"b\\c\nd"),
			 10);
	assert_string_equal(buf, "a\\\"b\\\\c\\nd");
	/* cut short: NUL-terminated, full length returned */
	assert_int_equal(metrics_escape_label(buf, 4, "\"\"\""), 6);
	assert_string_equal(buf, "\\\"\\");
	assert_int_equal(metrics_escape_label(buf, sizeof(buf), ""), 0);
	assert_string_equal(buf, "");
}

static void test_rtt_histogram(void **state)
{
	(void)state;
	char *t = render(client_status);
	has_line(t, "# TYPE ttt_link_rtt_seconds histogram");
	has_line(t, "ttt_link_rtt_seconds_bucket{link=\"a\",le=\"0.001\"} 0");
	has_line(t, "ttt_link_rtt_seconds_bucket{link=\"a\",le=\"0.005\"} 2");
	has_line(t, "ttt_link_rtt_seconds_bucket{link=\"a\",le=\"0.3\"} 5");
	has_line(t, "ttt_link_rtt_seconds_bucket{link=\"a\",le=\"+Inf\"} 6");
	has_line(t, "ttt_link_rtt_seconds_sum{link=\"a\"} 1.5005");
	has_line(t, "ttt_link_rtt_seconds_count{link=\"a\"} 6");
	/* the link without a histogram has no series */
	assert_int_equal(count(t, "ttt_link_rtt_seconds_count{"), 1);
	free(t);
	/* counts that do not match the bounds are refused, not misread */
	t = render("{\"role\":\"client\",\"session\":{},\"links\":[{\"name\":"
		   "\"a\",\"rtt_hist\":{\"le_ms\":[1,2],\"counts\":[1,2],"
		   "\"sum_ms\":3}}]}");
	assert_null(strstr(t, "ttt_link_rtt_seconds"));
	check_format(t);
	free(t);
}

static void test_server_client_labels(void **state)
{
	(void)state;
	char *t = render(
	    "{\"role\":\"server\",\"version\":\"0.1.0\",\"counters\":{"
	    "\"hello_ok\":2,\"hello_bad\":1,\"hello_replayed\":0,"
	    "\"hello_ratelimited\":4},\"sessions\":["
	    "{\"client\":\"laptop\",\"state\":\"established\",\"links\":["
	    " {\"name\":\"a\",\"state\":\"up\",\"rx_bytes\":10},"
	    " {\"name\":\"b\",\"state\":\"degraded\",\"rx_bytes\":20}],"
	    " \"counters\":{\"rx_replay\":9},"
	    " \"scheduler\":{\"plugin\":\"lowest-rtt\",\"dir\":\"downstream\","
	    "  \"picks\":5}},"
	    "{\"client\":\"phone\",\"state\":\"handshake\",\"links\":["
	    " {\"name\":\"a\",\"state\":\"down\",\"rx_bytes\":30}]}]}");
	check_format(t);
	has_line(t, "ttt_link_rx_bytes_total{client=\"laptop\",link=\"a\"} 10");
	has_line(t, "ttt_link_rx_bytes_total{client=\"laptop\",link=\"b\"} 20");
	has_line(t, "ttt_link_rx_bytes_total{client=\"phone\",link=\"a\"} 30");
	has_line(t, "ttt_link_state{client=\"laptop\",link=\"b\"} 1");
	has_line(t, "ttt_link_state{client=\"phone\",link=\"a\"} 0");
	has_line(t, "ttt_session_established{client=\"laptop\"} 1");
	has_line(t, "ttt_session_established{client=\"phone\"} 0");
	has_line(t, "ttt_session_rx_replays_total{client=\"laptop\"} 9");
	has_line(t, "ttt_scheduler_picks_total{client=\"laptop\","
		    "direction=\"downstream\",plugin=\"lowest-rtt\"} 5");
	has_line(t, "ttt_hello_accepted_total 2");
	has_line(t, "ttt_hello_ratelimited_total 4");
	has_line(t, "ttt_sessions 2");
	/* one TYPE line for the family across both sessions */
	assert_int_equal(count(t, "# TYPE ttt_link_rx_bytes_total "), 1);
	free(t);
}

/* Whatever the document lacks or mistypes is skipped, never misprinted. */
static void test_missing_and_mistyped(void **state)
{
	(void)state;
	char *t = render("{}");
	check_format(t);
	has_line(t, "ttt_info{role=\"\",version=\"\"} 1");
	assert_null(strstr(t, "ttt_link_"));
	free(t);
	t = render("{\"role\":\"client\",\"uptime_s\":\"soon\",\"session\":"
		   "{\"state\":5},\"links\":[7,{\"name\":3,\"state\":\"odd\","
		   "\"tx_bytes\":\"many\",\"srtt_ms\":1}]}");
	check_format(t);
	assert_null(strstr(t, "ttt_uptime_seconds"));
	assert_null(strstr(t, "ttt_link_state"));
	assert_null(strstr(t, "ttt_link_tx_bytes_total"));
	assert_null(strstr(t, "ttt_session_established"));
	has_line(t, "ttt_link_srtt_seconds{link=\"\"} 0.001");
	free(t);
}

/* The link model's figures (capacity, pacing, queueing delay, the send
 * queue), as the status document carries them. */
static void test_link_model(void **state)
{
	(void)state;
	char *t = render(
	    "{\"role\":\"client\",\"session\":{\"queue\":{\"packets\":3,"
	    "\"bytes\":4500,\"enqueued\":99,\"dropped_full\":1,"
	    "\"dropped_aqm\":2,\"ecn_marked\":5,\"max_sojourn_ms\":12.5,"
	    "\"aqm_target_ms\":10.5,\"aqm_interval_ms\":288}},"
	    "\"links\":[{\"name\":\"lte\",\"capacity_bps\":24000000,"
	    "\"pacing_bps\":22000000,\"base_rtt_ms\":31.5,"
	    "\"queue_delay_ms\":4.25,\"inflight_bytes\":60000,\"model\":{"
	    "\"delivery_bps\":20000000,\"delivered_packets\":1000,"
	    "\"lost_packets\":7,\"backoffs\":2,\"stalls\":0}}]}");
	check_format(t);
	has_line(t, "ttt_link_capacity_bytes_per_second{link=\"lte\"} 3000000");
	has_line(t, "ttt_link_pacing_rate_bytes_per_second{link=\"lte\"} "
		    "2750000");
	has_line(t, "ttt_link_delivery_rate_bytes_per_second{link=\"lte\"} "
		    "2500000");
	has_line(t, "ttt_link_base_rtt_seconds{link=\"lte\"} 0.0315");
	has_line(t, "ttt_link_queue_delay_seconds{link=\"lte\"} 0.00425");
	has_line(t, "ttt_link_inflight_bytes{link=\"lte\"} 60000");
	has_line(t, "ttt_link_model_lost_packets_total{link=\"lte\"} 7");
	has_line(t, "ttt_queue_packets 3");
	has_line(t, "ttt_queue_dropped_aqm_total 2");
	has_line(t, "ttt_queue_ecn_marked_total 5");
	has_line(t, "ttt_queue_aqm_target_seconds 0.0105");
	has_line(t, "ttt_queue_aqm_interval_seconds 0.288");
	has_line(t, "ttt_queue_max_sojourn_seconds 0.0125");
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_client_names_types_units),
	    cmocka_unit_test(test_label_escaping),
	    cmocka_unit_test(test_rtt_histogram),
	    cmocka_unit_test(test_server_client_labels),
	    cmocka_unit_test(test_missing_and_mistyped),
	    cmocka_unit_test(test_link_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
