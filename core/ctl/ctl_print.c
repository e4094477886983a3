/*
 * Printers for tuntunctl. The status schema grows as the daemon grows, and
 * an older tuntunctl may talk to a newer daemon (or the reverse), so nothing
 * here assumes a field exists or has the expected type: anything missing is
 * shown as "-" and unknown fields are ignored.
 */
#include "ctl/ctl_print.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CELL_MAX 160
#define MAX_COLS 24

/* ---- small formatting helpers ---- */

void ctl_print_fmt_bytes(char *buf, size_t n, double bytes)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
	if (bytes < 1024) {
		snprintf(buf, n, "%.0f B", bytes < 0 ? 0 : bytes);
		return;
	}
	double v = bytes / 1024;
	size_t u = 0;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, n, "%.1f %s", v, units[u]);
}

void ctl_print_fmt_duration(char *buf, size_t n, double seconds)
{
	if (seconds < 0)
		seconds = 0;
	unsigned long long s = (unsigned long long)seconds;
	if (s < 60)
		snprintf(buf, n, "%llus", s);
	else if (s < 3600)
		snprintf(buf, n, "%llum%02llus", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, n, "%lluh%02llum", s / 3600, s / 60 % 60);
	else
		snprintf(buf, n, "%llud%02lluh", s / 86400, s / 3600 % 24);
}

/* Daemon strings go to a terminal: never let one carry escape codes. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if (iscntrl((unsigned char)*s))
			*s = '?';
}

static bool get_num(const json_t *obj, const char *key, double *v)
{
	const json_t *j =
	    json_is_object(obj) ? json_object_get(obj, key) : NULL;
	if (!json_is_number(j))
		return false;
	*v = json_number_value(j);
	return true;
}

/* Any scalar as text; "-" when missing or not a scalar. */
static const char *get_str(const json_t *obj, const char *key, char *buf,
			   size_t n)
{
	const json_t *j =
	    json_is_object(obj) ? json_object_get(obj, key) : NULL;
	if (json_is_string(j))
		snprintf(buf, n, "%s", json_string_value(j));
	else if (json_is_integer(j))
		snprintf(buf, n, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(j));
	else if (json_is_real(j))
		snprintf(buf, n, "%g", json_real_value(j));
	else if (json_is_boolean(j))
		snprintf(buf, n, "%s", json_is_true(j) ? "yes" : "no");
	else
		snprintf(buf, n, "-");
	sanitize(buf);
	return buf;
}

static bool get_true(const json_t *obj, const char *key)
{
	return json_is_object(obj) && json_is_true(json_object_get(obj, key));
}

/* A number through `fmt` (which takes one double), or "-". */
static void num_cell(char *buf, size_t n, const json_t *obj, const char *key,
		     const char *fmt, double scale)
{
	double v;
	if (get_num(obj, key, &v))
		snprintf(buf, n, fmt, v * scale);
	else
		snprintf(buf, n, "-");
}

static void int_cell(char *buf, size_t n, const json_t *obj, const char *key)
{
	const json_t *j =
	    json_is_object(obj) ? json_object_get(obj, key) : NULL;
	if (json_is_integer(j))
		snprintf(buf, n, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(j));
	else if (json_is_real(j))
		snprintf(buf, n, "%.0f", json_real_value(j));
	else
		snprintf(buf, n, "-");
}

static void bytes_cell(char *buf, size_t n, const json_t *obj, const char *key)
{
	double v;
	if (get_num(obj, key, &v))
		ctl_print_fmt_bytes(buf, n, v);
	else
		snprintf(buf, n, "-");
}

/* ---- aligned tables ---- */

struct table {
	unsigned ncols, nrows, cap;
	const char *const *head;
	const bool *right; /* right-align numbers so digits line up */
	const bool *show;  /* columns to print (NULL: all) */
	char (*cells)[CELL_MAX];
};

/* Returns the row's first cell, or NULL when out of memory. */
static char (*table_row(struct table *t))[CELL_MAX]
{
	if (t->nrows == t->cap) {
		unsigned cap = t->cap ? t->cap * 2 : 8;
		void *p = realloc(t->cells, (size_t)cap * t->ncols * CELL_MAX);
		if (!p)
			return NULL;
		t->cells = p;
		t->cap = cap;
	}
	char(*row)[CELL_MAX] = t->cells + (size_t)t->nrows * t->ncols;
	for (unsigned c = 0; c < t->ncols; c++)
		strcpy(row[c], "-");
	t->nrows++;
	return row;
}

static void table_print(FILE *f, const struct table *t, const char *indent)
{
	size_t w[MAX_COLS];
	for (unsigned c = 0; c < t->ncols; c++) {
		w[c] = strlen(t->head[c]);
		for (unsigned r = 0; r < t->nrows; r++) {
			size_t l = strlen(t->cells[r * t->ncols + c]);
			if (l > w[c])
				w[c] = l;
		}
	}
	unsigned lastc = 0;
	for (unsigned c = 0; c < t->ncols; c++)
		if (!t->show || t->show[c])
			lastc = c;
	for (int r = -1; r < (int)t->nrows; r++) {
		fputs(indent, f);
		for (unsigned c = 0; c < t->ncols; c++) {
			if (t->show && !t->show[c])
				continue;
			const char *s =
			    r < 0 ? t->head[c] : t->cells[r * t->ncols + c];
			bool last = c == lastc;
			if (t->right[c])
				fprintf(f, "%*s", (int)w[c], s);
			else if (last)
				fputs(s, f);
			else
				fprintf(f, "%-*s", (int)w[c], s);
			if (!last)
				fputs("  ", f);
		}
		fputc('\n', f);
	}
}

/* ---- links ---- */

enum {
	L_NAME,
	L_STATE,
	L_RTT,
	L_JITTER,
	L_LOSS,
	L_CAP,
	L_PACE,
	L_BASE,
	L_QDELAY,
	L_INFLIGHT,
	L_TXMBPS,
	L_RXMBPS,
	L_TXPKTS,
	L_RXPKTS,
	L_TXBYTES,
	L_ERRORS,
	L_NOTES,
	L_NCOLS
};

static const char *const link_head[L_NCOLS] = {
    [L_NAME] = "NAME",	      [L_STATE] = "STATE",
    [L_RTT] = "RTT",	      [L_JITTER] = "JITTER",
    [L_LOSS] = "LOSS",	      [L_CAP] = "CAP Mbit/s",
    [L_PACE] = "PACE Mbit/s", [L_BASE] = "BASE RTT",
    [L_QDELAY] = "QDELAY",    [L_INFLIGHT] = "INFLIGHT",
    [L_TXMBPS] = "TX Mbit/s", [L_RXMBPS] = "RX Mbit/s",
    [L_TXPKTS] = "TX PKTS",   [L_RXPKTS] = "RX PKTS",
    [L_TXBYTES] = "TX BYTES", [L_ERRORS] = "ERRORS",
    [L_NOTES] = "NOTES",
};

static const bool link_right[L_NCOLS] = {
    [L_RTT] = true,	[L_JITTER] = true,   [L_LOSS] = true,
    [L_CAP] = true,	[L_PACE] = true,     [L_BASE] = true,
    [L_QDELAY] = true,	[L_INFLIGHT] = true, [L_TXMBPS] = true,
    [L_RXMBPS] = true,	[L_TXPKTS] = true,   [L_RXPKTS] = true,
    [L_TXBYTES] = true, [L_ERRORS] = true,
};

/* Flags worth a glance: why a link carries less than it could. */
static void link_notes(char *buf, size_t n, const json_t *l)
{
	size_t off = 0;
	buf[0] = 0;
#define NOTE(...)                                                              \
	do {                                                                   \
		if (off < n)                                                   \
			off += (size_t)snprintf(buf + off, n - off, "%s",      \
						off ? ", " : "");              \
		if (off < n)                                                   \
			off +=                                                 \
			    (size_t)snprintf(buf + off, n - off, __VA_ARGS__); \
	} while (0)
	if (get_true(l, "admin_down"))
		NOTE("admin down");
	if (get_true(l, "metered"))
		NOTE("metered");
	if (get_true(l, "backup"))
		NOTE("backup");
	double q, used;
	if (get_num(l, "quota_bytes", &q) && q > 0) {
		char a[32], b[32];
		if (!get_num(l, "quota_used_bytes", &used))
			used = 0;
		ctl_print_fmt_bytes(a, sizeof(a), used);
		ctl_print_fmt_bytes(b, sizeof(b), q);
		NOTE("quota %s of %s", a, b);
	}
#undef NOTE
	if (!buf[0])
		snprintf(buf, n, "-");
}

/* Narrow (80-column) tables keep these columns; notes go under the table. */
static const bool link_narrow[L_NCOLS] = {
    [L_NAME] = true, [L_STATE] = true,	[L_RTT] = true,	   [L_JITTER] = true,
    [L_LOSS] = true, [L_TXMBPS] = true, [L_RXMBPS] = true,
};

/* A name longer than this is cut (with a trailing '~') in narrow output. */
#define NARROW_NAME 16

static void print_wrapped(FILE *f, const char *label, const char *lead,
			  const char *const *items, unsigned n);

static void links_print(FILE *f, const json_t *links, const char *indent,
			unsigned flags)
{
	bool wide = flags & CTL_PRINT_WIDE;
	if (!json_is_array(links) || json_array_size(links) == 0) {
		fprintf(f, "%s(no links)\n", indent);
		return;
	}
	struct table t = {
	    .ncols = L_NCOLS, .head = link_head, .right = link_right};
	size_t i;
	const json_t *l;
	json_array_foreach(links, i, l)
	{
		char(*row)[CELL_MAX] = table_row(&t);
		if (!row)
			break;
		get_str(l, "name", row[L_NAME], CELL_MAX);
		get_str(l, "state", row[L_STATE], CELL_MAX);
		num_cell(row[L_RTT], CELL_MAX, l, "srtt_ms", "%.1f ms", 1);
		num_cell(row[L_JITTER], CELL_MAX, l, "jitter_ms", "%.1f ms", 1);
		num_cell(row[L_LOSS], CELL_MAX, l, "loss_pct", "%.1f%%", 1);
		num_cell(row[L_CAP], CELL_MAX, l, "capacity_bps", "%.2f", 1e-6);
		num_cell(row[L_PACE], CELL_MAX, l, "pacing_bps", "%.2f", 1e-6);
		num_cell(row[L_BASE], CELL_MAX, l, "base_rtt_ms", "%.1f ms", 1);
		num_cell(row[L_QDELAY], CELL_MAX, l, "queue_delay_ms",
			 "%.1f ms", 1);
		bytes_cell(row[L_INFLIGHT], CELL_MAX, l, "inflight_bytes");
		num_cell(row[L_TXMBPS], CELL_MAX, l, "tx_bps", "%.2f", 1e-6);
		num_cell(row[L_RXMBPS], CELL_MAX, l, "rx_bps", "%.2f", 1e-6);
		int_cell(row[L_TXPKTS], CELL_MAX, l, "tx_packets");
		int_cell(row[L_RXPKTS], CELL_MAX, l, "rx_packets");
		bytes_cell(row[L_TXBYTES], CELL_MAX, l, "tx_bytes");
		int_cell(row[L_ERRORS], CELL_MAX, l, "errors");
		link_notes(row[L_NOTES], CELL_MAX, l);
		if (!wide && strlen(row[L_NAME]) > NARROW_NAME) {
			row[L_NAME][NARROW_NAME - 1] = '~';
			row[L_NAME][NARROW_NAME] = 0;
		}
	}
	if (wide) {
		table_print(f, &t, indent);
	} else {
		t.show = link_narrow;
		table_print(f, &t, indent);
		/* Notes and errors, one line per link that has any. */
		for (unsigned r = 0; r < t.nrows; r++) {
			char(*row)[CELL_MAX] = t.cells + (size_t)r * t.ncols;
			bool notes = strcmp(row[L_NOTES], "-") != 0;
			bool errs = strcmp(row[L_ERRORS], "0") != 0 &&
				    strcmp(row[L_ERRORS], "-") != 0;
			if (!notes && !errs)
				continue;
			/* errors first, then each note, wrapped */
			char errtxt[64], label[CELL_MAX + 8], *save = NULL;
			const char *items[12];
			unsigned n = 0;
			if (errs) {
				snprintf(errtxt, sizeof(errtxt), "%s errors",
					 row[L_ERRORS]);
				items[n++] = errtxt;
			}
			for (char *tok =
				 notes ? strtok_r(row[L_NOTES], ",", &save)
				       : NULL;
			     tok && n < 12; tok = strtok_r(NULL, ",", &save))
				items[n++] = tok + strspn(tok, " ");
			snprintf(label, sizeof(label), "%s  %s:", indent,
				 row[L_NAME]);
			print_wrapped(f, label, "", items, n);
		}
	}
	free(t.cells);
}

void ctl_print_links(FILE *f, const json_t *links, const char *indent)
{
	links_print(f, links, indent, 0);
}

/* ---- status ---- */

/*
 * "label" then items separated by ", ", wrapped under the label so no line
 * passes CTL_PRINT_WIDTH (an item longer than a line is cut).
 */
static void print_wrapped(FILE *f, const char *label, const char *lead,
			  const char *const *items, unsigned n)
{
	int lw = 12;
	int col = fprintf(f, "%-12s%.*s", label, CTL_PRINT_WIDTH - 12, lead);
	if (lead[0] && n)
		col += fprintf(f, ":");
	else if (!lead[0] && (int)strlen(label) >= lw && n) {
		fputc(' ', f); /* a label longer than the column */
		col++;
	}
	for (unsigned i = 0; i < n; i++) {
		int len = (int)strlen(items[i]);
		int sep = i + 1 < n ? 1 : 0; /* the trailing comma */
		if (i > 0 && col + 1 + len + sep > CTL_PRINT_WIDTH) {
			fprintf(f, "\n%*s", lw, "");
			col = lw;
		} else if (i > 0 || lead[0]) {
			fputc(' ', f);
			col++;
		}
		int room = CTL_PRINT_WIDTH - col - sep;
		col += fprintf(f, "%.*s%s", room > 0 ? room : 0, items[i],
			       sep ? "," : "");
	}
	fputc('\n', f);
}

/*
 * A plugin's `dump` state as "key: value" lines: nested objects become
 * dotted keys, arrays of scalars "a, b, c", nothing as raw JSON. At most
 * DUMP_MAX_LINES lines (then "..."), each cut at the width.
 */
#define DUMP_MAX_LINES 24

static void scalar_text(const json_t *v, char *buf, size_t n)
{
	if (json_is_string(v))
		snprintf(buf, n, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, n, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, n, "%g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, n, "%s", json_is_true(v) ? "yes" : "no");
	else if (json_is_null(v))
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "...");
	sanitize(buf);
}

static void dump_kv(FILE *f, const char *indent, const char *prefix,
		    const json_t *v, int depth, int *lines)
{
	char val[CELL_MAX];
	if (*lines > DUMP_MAX_LINES)
		return;
	if (json_is_object(v) && depth < 4) {
		const char *k;
		const json_t *x;
		json_object_foreach((json_t *)v, k, x)
		{
			char key[CELL_MAX];
			snprintf(key, sizeof(key), "%s%s%s", prefix,
				 prefix[0] ? "." : "", k);
			sanitize(key);
			dump_kv(f, indent, key, x, depth + 1, lines);
		}
		return;
	}
	if (json_is_array(v)) {
		size_t i, off = 0;
		const json_t *x;
		val[0] = 0;
		json_array_foreach(v, i, x)
		{
			char one[64];
			scalar_text(x, one, sizeof(one));
			int w = snprintf(val + off, sizeof(val) - off, "%s%s",
					 i ? ", " : "", one);
			if (w < 0 || (size_t)w >= sizeof(val) - off)
				break;
			off += (size_t)w;
		}
	} else {
		scalar_text(v, val, sizeof(val));
	}
	if (++*lines > DUMP_MAX_LINES) {
		fprintf(f, "%s...\n", indent);
		return;
	}
	int room =
	    CTL_PRINT_WIDTH - (int)strlen(indent) - (int)strlen(prefix) - 2;
	fprintf(f, "%s%s: %.*s\n", indent, prefix, room > 8 ? room : 8, val);
}

static void print_sched(FILE *f, const char *label, const json_t *s)
{
	char a[CELL_MAX], b[CELL_MAX], lead[CELL_MAX * 3], cells[3][48];
	const char *items[3];
	unsigned n = 0;
	int off = snprintf(lead, sizeof(lead), "%s",
			   get_str(s, "plugin", a, sizeof(a)));
	if (json_is_object(s) && json_object_get(s, "version"))
		off += snprintf(lead + off, sizeof(lead) - (size_t)off, " v%s",
				get_str(s, "version", b, sizeof(b)));
	if (json_is_object(s) && json_is_string(json_object_get(s, "asked")))
		snprintf(lead + off, sizeof(lead) - (size_t)off,
			 " (server default; asked for %s)",
			 get_str(s, "asked", b, sizeof(b)));
	static const char *const counts[] = {"picks", "faults", "drops"};
	for (int i = 0; i < 3; i++) {
		double v;
		if (!get_num(s, counts[i], &v))
			continue;
		snprintf(cells[n], sizeof(cells[n]), "%.0f %s", v, counts[i]);
		items[n] = cells[n];
		n++;
	}
	print_wrapped(f, label, lead, items, n);
	const json_t *st =
	    json_is_object(s) ? json_object_get(s, "state") : NULL;
	if (json_is_object(st) && json_object_size(st) > 0) {
		int lines = 0;
		dump_kv(f, "            ", "", st, 0, &lines);
	}
}

static void print_reorder(FILE *f, const char *label, const json_t *r)
{
	if (!json_is_object(r)) {
		fprintf(f, "%-12s-\n", label);
		return;
	}
	if (json_is_false(json_object_get(r, "enabled"))) {
		fprintf(f, "%-12soff\n", label);
		return;
	}
	/* held_now is what waits right now; "held" counts every packet
	 * ever held, which only grows. */
	static const char *const keys[] = {
	    "held_now", "delivered", "reordered", "late", "duplicates", "lost"};
	static const char *const names[] = {
	    "held now", "delivered", "reordered", "late", "duplicates", "lost"};
	char cells[7][48], num[32];
	const char *items[7];
	num_cell(num, sizeof(num), r, "hold_ms", "%.1f ms", 1);
	snprintf(cells[0], sizeof(cells[0]), "hold %s", num);
	items[0] = cells[0];
	for (int i = 0; i < 6; i++) {
		int_cell(num, sizeof(num), r, keys[i]);
		snprintf(cells[i + 1], sizeof(cells[i + 1]), "%s %s", num,
			 names[i]);
		items[i + 1] = cells[i + 1];
	}
	print_wrapped(f, label, "", items, 7);
}

/* "up 5m02s, last handshake 12:03:04 (5m02s ago)[, cipher]" when the
 * daemon says; nothing for an older daemon. The cipher is on this line
 * only for server sessions (label non-empty). */
static void print_session_times(FILE *f, const char *label, const json_t *s)
{
	char cells[3][96], d[32];
	const char *items[3];
	unsigned n = 0;
	double age, ago, at;
	if (get_num(s, "age_s", &age)) {
		ctl_print_fmt_duration(d, sizeof(d), age);
		snprintf(cells[n], sizeof(cells[n]), "up %s", d);
		items[n] = cells[n];
		n++;
	}
	if (get_num(s, "handshake_at", &at) &&
	    get_num(s, "handshake_ago_s", &ago)) {
		time_t t = (time_t)at;
		struct tm tm;
		char hm[16] = "?";
		if (localtime_r(&t, &tm))
			strftime(hm, sizeof(hm), "%H:%M:%S", &tm);
		ctl_print_fmt_duration(d, sizeof(d), ago);
		snprintf(cells[n], sizeof(cells[n]),
			 "last handshake %s (%s ago)", hm, d);
		items[n] = cells[n];
		n++;
	}
	if (label[0] && json_is_string(json_object_get(s, "cipher"))) {
		get_str(s, "cipher", cells[n], sizeof(cells[n]));
		items[n] = cells[n];
		n++;
	}
	if (n)
		print_wrapped(f, label, "", items, n);
}

/* The daemon queue and the traffic classes (flow_queue) of one session:
 *   queue:      flow queue, 0 waiting, 3 dropped (2 fattest), 1 aqm, 0 ecn
 *   interactive: 812 pkts, delay 0.3 ms (max 2.1), 0 dropped; dup 812 sent,
 *               790 discarded
 *   bulk:       90211 pkts, delay 4.1 ms (max 38.0), 52 dropped, 7 ecn */
static void print_classes(FILE *f, const char *ind, const json_t *sess)
{
	const json_t *q =
	    json_is_object(sess) ? json_object_get(sess, "queue") : NULL;
	const json_t *c =
	    json_is_object(sess) ? json_object_get(sess, "classes") : NULL;
	if (!json_is_object(q) || !json_is_object(c))
		return;
	char n[32], dr[32], fa[32], aq[32], ec[32], lab[32];
	int_cell(n, sizeof(n), q, "packets");
	int_cell(dr, sizeof(dr), q, "dropped_full");
	int_cell(fa, sizeof(fa), q, "dropped_fattest");
	int_cell(aq, sizeof(aq), q, "dropped_aqm");
	int_cell(ec, sizeof(ec), q, "ecn_marked");
	snprintf(lab, sizeof(lab), "%squeue:", ind);
	if (json_is_true(json_object_get(q, "flow_queue")))
		fprintf(f,
			"%-12sflow queue, %s waiting, %s dropped full (%s "
			"fattest), %s aqm, %s ecn\n",
			lab, n, dr, fa, aq, ec);
	else
		fprintf(f,
			"%-12sfifo, %s waiting, %s dropped full, %s aqm, %s "
			"ecn\n",
			lab, n, dr, aq, ec);
	const char *names[2] = {"interactive", "bulk"};
	for (int k = 0; k < 2; k++) {
		const json_t *o = json_object_get(c, names[k]);
		if (!json_is_object(o))
			continue;
		char p[32], d[32], m[32], x[32], e[32];
		int_cell(p, sizeof(p), o, "packets");
		num_cell(d, sizeof(d), o, "delay_ms", "%.1f", 1);
		num_cell(m, sizeof(m), o, "delay_max_ms", "%.1f", 1);
		int_cell(x, sizeof(x), o, "dropped");
		snprintf(lab, sizeof(lab), "%s%s:", ind, names[k]);
		fprintf(f, "%-*s%s pkts, delay %s ms (max %s), %s dropped",
			(int)(13 + strlen(ind)), lab, p, d, m, x);
		if (k == 1 && json_object_get(o, "ecn_marked")) {
			int_cell(e, sizeof(e), o, "ecn_marked");
			fprintf(f, ", %s ecn", e);
		}
		if (k == 0) {
			int_cell(e, sizeof(e), c, "duplicates_sent");
			int_cell(x, sizeof(x), c, "duplicates_discarded");
			fprintf(f, "; dup %s sent, %s discarded", e, x);
		}
		fputc('\n', f);
	}
}

/*
 * Loss recovery: the session's resend figures on one line, then one line
 * per link that lost or resent anything (a table column each would make
 * the links table too wide for what is zero on a healthy link).
 */
static void print_recovery(FILE *f, const char *label, const json_t *r,
			   const json_t *links, const char *indent)
{
	if (!json_is_object(r))
		return;
	if (json_is_false(json_object_get(r, "enabled"))) {
		fprintf(f, "%-12soff\n", label);
		return;
	}
	char rs[32], rb[32], ob[32], to[32], bud[32];
	double v;
	int_cell(rs, sizeof(rs), r, "resent");
	if (!get_num(r, "resent_bytes", &v))
		v = 0;
	ctl_print_fmt_bytes(rb, sizeof(rb), v);
	int_cell(ob, sizeof(ob), r, "over_budget");
	int_cell(to, sizeof(to), r, "too_old");
	int_cell(bud, sizeof(bud), r, "budget_pct");
	fprintf(
	    f, "%-12s%s resent (%s), %s over budget, %s too old; budget %s%%\n",
	    label, rs, rb, ob, to, bud);
	size_t i;
	const json_t *l;
	if (!json_is_array(links))
		return;
	json_array_foreach(links, i, l)
	{
		const json_t *lr = json_object_get(l, "recovery");
		double lost = 0, retx = 0, nrx = 0;
		if (!json_is_object(lr))
			continue;
		get_num(lr, "losses", &lost);
		get_num(lr, "retx_packets", &retx);
		get_num(lr, "nacks_received", &nrx);
		if (!lost && !retx && !nrx)
			continue;
		char nm[CELL_MAX], a[32], b[32], c[32], d[32], e[32], g[32];
		get_str(l, "name", nm, sizeof(nm));
		int_cell(a, sizeof(a), lr, "losses");
		int_cell(b, sizeof(b), lr, "recovered");
		int_cell(c, sizeof(c), lr, "recovered_late");
		int_cell(d, sizeof(d), lr, "nacks_sent");
		int_cell(e, sizeof(e), lr, "nacks_received");
		if (!get_num(lr, "retx_bytes", &v))
			v = 0;
		ctl_print_fmt_bytes(g, sizeof(g), v);
		fprintf(f,
			"%s  %s: %s lost, %s recovered, %s too late; NACKs %s "
			"sent, %s received; resent on it %s\n",
			indent, nm, a, b, c, d, e, g);
	}
}

void ctl_print_status(FILE *f, const json_t *st)
{
	ctl_print_status_opts(f, st, 0);
}

void ctl_print_status_opts(FILE *f, const json_t *st, unsigned flags)
{
	char a[CELL_MAX], b[CELL_MAX], c[CELL_MAX];
	fprintf(f, "%-12s%s\n", "role:", get_str(st, "role", a, sizeof(a)));
	fprintf(f, "%-12s%s\n",
		"version:", get_str(st, "version", a, sizeof(a)));
	double up;
	if (get_num(st, "uptime_s", &up))
		ctl_print_fmt_duration(a, sizeof(a), up);
	else
		strcpy(a, "-");
	fprintf(f, "%-12s%s\n", "uptime:", a);

	const json_t *tun =
	    json_is_object(st) ? json_object_get(st, "tun") : NULL;
	fprintf(f, "%-12s%s, mtu %s", "tun:", get_str(tun, "name", a, 64),
		get_str(tun, "mtu", b, 64));
	/* offloads (tun.offload), when the daemon reports them */
	const json_t *off =
	    json_is_object(tun) ? json_object_get(tun, "offload") : NULL;
	if (json_is_object(off))
		fprintf(f, ", offload %s%s", get_true(off, "on") ? "on" : "off",
			get_true(off, "udp_gro") ? ", UDP GRO" : "");
	fputc('\n', f);

	if (json_is_object(st) && json_object_get(st, "server"))
		fprintf(f, "%-12s%.68s\n",
			"server:", get_str(st, "server", a, sizeof(a)));
	const json_t *sess =
	    json_is_object(st) ? json_object_get(st, "session") : NULL;
	if (sess) {
		fprintf(f, "%-12s%s, %s, crypto %s",
			"session:", get_str(sess, "id", a, 64),
			get_str(sess, "state", b, 64),
			get_str(sess, "crypto", c, 64));
		if (json_is_string(json_object_get(sess, "cipher")))
			fprintf(f, " %.24s", get_str(sess, "cipher", a, 64));
		if (json_object_get(sess, "key_epoch"))
			fprintf(f, ", key epoch %s",
				get_str(sess, "key_epoch", a, 64));
		fputc('\n', f);
		print_session_times(f, "", sess);
	}

	const json_t *sch =
	    json_is_object(st) ? json_object_get(st, "scheduler") : NULL;
	print_sched(f, "upstream:",
		    json_is_object(sch) ? json_object_get(sch, "upstream")
					: NULL);
	print_sched(f, "downstream:",
		    json_is_object(sch) ? json_object_get(sch, "downstream")
					: NULL);

	const json_t *sessions =
	    json_is_object(st) ? json_object_get(st, "sessions") : NULL;
	const json_t *links =
	    json_is_object(st) ? json_object_get(st, "links") : NULL;
	if (!sessions || links) {
		print_reorder(f, "reorder:", json_object_get(st, "reorder"));
		print_classes(f, "", sess);
		print_recovery(f, "recovery:", json_object_get(st, "recovery"),
			       links, "");
		fputc('\n', f);
		links_print(f, links, "", flags);
	}
	if (!sessions)
		return;
	if (!json_is_array(sessions) || json_array_size(sessions) == 0) {
		fprintf(f, "%-12snone\n", "sessions:");
		return;
	}
	size_t i;
	const json_t *s;
	json_array_foreach(sessions, i, s)
	{
		fprintf(f, "\nsession %s (id %s", get_str(s, "client", a, 64),
			get_str(s, "id", b, 64));
		if (json_is_object(s) && json_object_get(s, "state"))
			fprintf(f, ", %s", get_str(s, "state", c, 64));
		if (json_is_object(s) && json_object_get(s, "key_epoch"))
			fprintf(f, ", key epoch %s",
				get_str(s, "key_epoch", c, 64));
		fprintf(f, ")\n");
		print_session_times(f, "  session:", s);
		print_reorder(f, "  reorder:",
			      json_is_object(s) ? json_object_get(s, "reorder")
						: NULL);
		print_classes(f, "  ", s);
		if (json_is_object(s))
			print_recovery(
			    f, "  recovery:", json_object_get(s, "recovery"),
			    json_object_get(s, "links"), "  ");
		links_print(
		    f, json_is_object(s) ? json_object_get(s, "links") : NULL,
		    "  ", flags);
	}
}

/* ---- plugins ---- */

void ctl_print_plugins(FILE *f, const json_t *reply)
{
	static const char *const head[] = {"NAME", "VERSION", "LOADED", "FILE",
					   "DESCRIPTION"};
	static const bool right[5] = {false};
	const json_t *list =
	    json_is_object(reply) ? json_object_get(reply, "plugins") : NULL;
	if (!json_is_array(list) || json_array_size(list) == 0) {
		fprintf(f, "(no plugins)\n");
		return;
	}
	struct table t = {.ncols = 5, .head = head, .right = right};
	size_t i;
	const json_t *p;
	json_array_foreach(list, i, p)
	{
		char(*row)[CELL_MAX] = table_row(&t);
		if (!row)
			break;
		get_str(p, "name", row[0], CELL_MAX);
		get_str(p, "version", row[1], CELL_MAX);
		get_str(p, "loaded", row[2], CELL_MAX);
		get_str(p, "file", row[3], CELL_MAX);
		get_str(p, "description", row[4], CELL_MAX);
		const json_t *err =
		    json_is_object(p) ? json_object_get(p, "error") : NULL;
		/* A refused plugin says why instead of what it does. */
		if (json_is_string(err) && json_string_length(err) > 0) {
			snprintf(row[4], CELL_MAX, "REFUSED: %s",
				 json_string_value(err));
			sanitize(row[4]);
		}
	}
	table_print(f, &t, "");
	free(t.cells);
}

/* ---- rates for watch ---- */

static const json_t *find_by(const json_t *arr, const char *key,
			     const char *val)
{
	size_t i;
	const json_t *x;
	if (!val)
		return NULL;
	json_array_foreach(arr, i, x)
	{
		const char *v = json_string_value(json_object_get(x, key));
		if (v && strcmp(v, val) == 0)
			return x;
	}
	return NULL;
}

static int derive_links(json_t *cur, const json_t *prev, double dt)
{
	static const char *const pairs[2][2] = {{"tx_bps", "tx_bytes"},
						{"rx_bps", "rx_bytes"}};
	int n = 0;
	size_t i;
	json_t *l;
	if (!json_is_array(cur) || !json_is_array(prev))
		return 0;
	json_array_foreach(cur, i, l)
	{
		const json_t *p =
		    find_by(prev, "name",
			    json_string_value(json_object_get(l, "name")));
		if (!p)
			continue;
		for (int k = 0; k < 2; k++) {
			double now, before;
			if (json_object_get(l, pairs[k][0]) ||
			    !get_num(l, pairs[k][1], &now) ||
			    !get_num(p, pairs[k][1], &before) || now < before)
				continue; /* counters reset: skip a round */
			if (json_object_set_new(
				l, pairs[k][0],
				json_real((now - before) * 8 / dt)) == 0)
				n++;
		}
	}
	return n;
}

int ctl_print_derive_rates(json_t *cur, const json_t *prev, double dt_s)
{
	if (!json_is_object(cur) || !json_is_object(prev) || !(dt_s > 0))
		return 0;
	int n = derive_links(json_object_get(cur, "links"),
			     json_object_get(prev, "links"), dt_s);
	const json_t *ps = json_object_get(prev, "sessions");
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(cur, "sessions"), i, s)
	{
		const json_t *p =
		    find_by(ps, "client",
			    json_string_value(json_object_get(s, "client")));
		if (p)
			n += derive_links(json_object_get(s, "links"),
					  json_object_get(p, "links"), dt_s);
	}
	return n;
}
