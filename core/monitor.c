/*
 * The daemon side of the monitoring listener (core/ctl/httpd.c): reads the
 * credentials, starts the server thread, and once a second publishes a
 * snapshot of the status document (the very status_json() `tuntunctl
 * status --json` prints) and its Prometheus rendering (core/ctl/metrics.c).
 * It also keeps the last HIST_LEN seconds of each link's rates and RTT for
 * the page's graphs, rendered into the snapshot only while pages ask for
 * them. This is the only code that touches daemon state for HTTP, and it
 * runs in the loop, between packets, like any other timer.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "ctl/httpd.h"
#include "daemon.h"

/* First line of `path` (without trailing spaces or CR/LF) into buf. */
static int read_secret(const char *path, const char *key, char *buf, size_t n,
		       struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, -errno, "http.%s %s: %s", key, path,
			       strerror(errno));
	struct stat st;
	if (fstat(fd, &st) == 0 && (st.st_mode & 0077))
		log_warn("http", "http.%s %s is readable by group or others",
			 key, path);
	ssize_t got = read(fd, buf, n - 1);
	int rerr = errno;
	close(fd);
	if (got < 0)
		return err_set(e, -rerr, "http.%s %s: %s", key, path,
			       strerror(rerr));
	buf[got] = 0;
	buf[strcspn(buf, "\r\n")] = 0;
	size_t len = strlen(buf);
	while (len && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		buf[--len] = 0;
	if (len == 0)
		return err_set(e, -EINVAL, "http.%s %s: empty first line", key,
			       path);
	return 0;
}

/* Seconds of history per link; and how long after the last request for
 * it the snapshot keeps carrying it (a page asks once when it opens). */
#define HIST_LEN      300
#define HIST_WANTED_S 30

/* One sample per second per link: rates and RTT (NaN while down). */
struct hist_sample {
	float tx_bps, rx_bps, srtt_ms;
};

/* The history of one session (one per slot; reset when the slot's session
 * changes). Samples [n - count, n) live at index i % HIST_LEN. */
struct hist_sess {
	uint32_t sess_id;
	uint64_t n; /* samples ever taken */
	/* byte counters at the last sample: the rates are this history's
	 * own, from counter deltas. Copying the links' tx_bps (the stats
	 * timer's, another 1 s timer) skipped or repeated a second whenever
	 * the two timers' phases crossed: an 8 MB burst that fell in one
	 * stats second could vanish from the graph (t-http saw it). */
	uint64_t last_ns;
	uint64_t last_tx[CFG_MAX_LINKS], last_rx[CFG_MAX_LINKS];
	struct hist_sample s[HIST_LEN][CFG_MAX_LINKS];
};

struct monitor {
	struct httpd *httpd;
	ev_timer timer;
	struct hist_sess **hist; /* [d->max_sessions], allocated lazily */
};

/* Takes this second's sample of every session's links. */
static void hist_record(struct daemon *d, struct monitor *m)
{
	for (uint32_t i = 0; i < d->max_sessions; i++) {
		struct session *s = d->sessions[i];
		struct hist_sess *h = m->hist[i];
		if (!s) {
			free(h);
			m->hist[i] = NULL;
			continue;
		}
		if (h && h->sess_id != s->id) {
			memset(h, 0, sizeof(*h));
			h->sess_id = s->id;
		}
		if (!h) {
			h = m->hist[i] = calloc(1, sizeof(*h));
			if (!h)
				continue; /* no graph history for this one */
			h->sess_id = s->id;
		}
		struct hist_sample *row = h->s[h->n % HIST_LEN];
		uint64_t now = now_ns(d), dt = now - h->last_ns;
		for (uint32_t k = 0; k < s->n_paths && k < CFG_MAX_LINKS; k++) {
			const struct path *p = &s->paths[k];
			bool down = p->id >= s->n_paths ||
				    s->views[p->id].state == TTT_LINK_DOWN;
			if (h->last_ns && dt && p->tx_bytes >= h->last_tx[k] &&
			    p->rx_bytes >= h->last_rx[k]) {
				row[k].tx_bps =
				    (float)((double)(p->tx_bytes -
						     h->last_tx[k]) *
					    8e9 / (double)dt);
				row[k].rx_bps =
				    (float)((double)(p->rx_bytes -
						     h->last_rx[k]) *
					    8e9 / (double)dt);
			} else {
				row[k].tx_bps = (float)p->tx_bps;
				row[k].rx_bps = (float)p->rx_bps;
			}
			h->last_tx[k] = p->tx_bytes;
			h->last_rx[k] = p->rx_bytes;
			row[k].srtt_ms =
			    down || !p->probe.srtt_us
				? NAN
				: (float)(p->probe.srtt_us / 1000.0);
		}
		h->last_ns = now;
		h->n++;
	}
}

static void put_series(FILE *f, const char *key, const struct hist_sess *h,
		       uint32_t k, int which)
{
	uint64_t count = h->n < HIST_LEN ? h->n : HIST_LEN;
	fprintf(f, ",\"%s\":[", key);
	for (uint64_t j = h->n - count; j < h->n; j++) {
		const struct hist_sample *x = &h->s[j % HIST_LEN][k];
		float v = which == 0   ? x->tx_bps
			  : which == 1 ? x->rx_bps
				       : x->srtt_ms;
		if (j != h->n - count)
			fputc(',', f);
		if (isnan(v))
			fputs("null", f);
		else if (which == 2)
			fprintf(f, "%.2f", v);
		else
			fprintf(f, "%.0f", v);
	}
	fputc(']', f);
}

/*
 * {"schema_version":1,"interval_s":1,"uptime_s":U,"sessions":[{"client":
 * NAME|null,"links":[{"name":..,"tx_bps":[..],"rx_bps":[..],"srtt_ms":
 * [..]}]}]}: arrays oldest first, the last sample taken at uptime_s; link
 * and client names are config names (no escaping needed, but done anyway
 * through jansson's dumper for safety).
 */
static char *hist_render(struct daemon *d, struct monitor *m, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	if (!f)
		return NULL;
	fprintf(f,
		"{\"schema_version\":1,\"interval_s\":1,\"uptime_s\":%.1f,"
		"\"sessions\":[",
		(now_ns(d) - d->start_ns) / 1e9);
	bool first_s = true;
	for (uint32_t i = 0; i < d->max_sessions; i++) {
		struct session *s = d->sessions[i];
		const struct hist_sess *h = m->hist[i];
		if (!s || !h || h->sess_id != s->id)
			continue;
		json_t *cl =
		    s->client_idx >= 0
			? json_string(d->cfg.clients[s->client_idx].name)
			: json_null();
		char *cls = cl ? json_dumps(cl, JSON_ENCODE_ANY) : NULL;
		json_decref(cl);
		fprintf(f, "%s{\"client\":%s,\"links\":[", first_s ? "" : ",",
			cls ? cls : "null");
		free(cls);
		first_s = false;
		bool first_l = true;
		for (uint32_t k = 0; k < s->n_paths && k < CFG_MAX_LINKS; k++) {
			if (!s->paths[k].sess)
				continue;
			json_t *nm = json_string(s->paths[k].name);
			char *nms = nm ? json_dumps(nm, JSON_ENCODE_ANY) : NULL;
			json_decref(nm);
			fprintf(f, "%s{\"name\":%s", first_l ? "" : ",",
				nms ? nms : "\"\"");
			free(nms);
			first_l = false;
			put_series(f, "tx_bps", h, k, 0);
			put_series(f, "rx_bps", h, k, 1);
			put_series(f, "srtt_ms", h, k, 2);
			fputc('}', f);
		}
		fputs("]}", f);
	}
	fputs("]}", f);
	bool bad = ferror(f) != 0;
	if (fclose(f) != 0 || bad) {
		free(text);
		return NULL;
	}
	return text;
}

static void publish(struct daemon *d)
{
	struct monitor *m = d->mon;
	struct httpd_docs docs = {0};
	hist_record(d, m);
	/* The tree only: the HTTP thread serialises and renders it. */
	docs.status = status_json(d);
	if (!docs.status) {
		log_debug("http", "snapshot skipped: out of memory");
		return;
	}
	if (httpd_history_wanted(m->httpd, HIST_WANTED_S))
		docs.history = hist_render(d, m, &docs.history_len);
	httpd_publish(m->httpd, &docs);
}

static void monitor_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	publish(w->data);
}

int monitor_setup(struct daemon *d, struct err *e)
{
	const struct cfg_http *c = &d->cfg.http;
	char token[CFG_STR_MAX], pass[CFG_STR_MAX];
	int ret;
	if (!c->enabled)
		return 0;
	struct monitor *m = calloc(1, sizeof(*m));
	if (!m || !(m->hist = calloc(d->max_sessions, sizeof(*m->hist)))) {
		free(m);
		return err_set(e, -ENOMEM, "out of memory");
	}
	snprintf(token, sizeof(token), "%s", c->token);
	snprintf(pass, sizeof(pass), "%s", c->password);
	ret = 0;
	if (c->token_file[0])
		ret = read_secret(c->token_file, "token_file", token,
				  sizeof(token), e);
	if (ret == 0 && c->password_file[0])
		ret = read_secret(c->password_file, "password_file", pass,
				  sizeof(pass), e);
	if (ret == 0) {
		struct httpd_auth auth = {
		    .token = token, .user = c->user, .password = pass};
		ret = httpd_start(&m->httpd,
				  (const struct sockaddr *)&c->listen.ss,
				  c->listen.len, &auth, e);
	}
	explicit_bzero(token, sizeof(token));
	explicit_bzero(pass, sizeof(pass));
	if (ret < 0) {
		free(m->hist);
		free(m);
		return ret;
	}
	d->mon = m;
	ev_timer_init(&m->timer, monitor_timer_cb, 1.0, 1.0);
	m->timer.data = d;
	ev_timer_start(d->loop, &m->timer);
	return 0;
}

/* After setup: the first snapshot now, so the listener never answers 503
 * once the daemon runs. */
void monitor_start(struct daemon *d)
{
	if (d->mon)
		publish(d);
}

bool monitor_http_stats(struct daemon *d, struct httpd_stats *st)
{
	if (!d->mon)
		return false;
	httpd_get_stats(d->mon->httpd, st);
	return true;
}

void monitor_teardown(struct daemon *d)
{
	struct monitor *m = d->mon;
	if (!m)
		return;
	ev_timer_stop(d->loop, &m->timer);
	httpd_stop(m->httpd);
	for (uint32_t i = 0; i < d->max_sessions; i++)
		free(m->hist[i]);
	free(m->hist);
	free(m);
	d->mon = NULL;
}
