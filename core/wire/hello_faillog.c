/*
 * Rate-limited per-source record of failed HELLOs (see hello_faillog.h).
 * Linear search over 64 slots: it runs only for HELLOs that failed, which
 * the per-source budget (hello_limit.c) already bounds.
 */
#include "wire/hello_faillog.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fl_slot {
	bool used;
	int family;
	uint8_t key[8]; /* IPv4 address, or IPv6 /64 prefix */
	uint64_t last_seen_ns, last_line_ns;
	bool logged; /* a line was printed for this source */
	struct hello_fail_report pend;
};

struct hello_faillog {
	struct fl_slot slot[HELLO_FAILLOG_SLOTS];
};

struct hello_faillog *hello_faillog_new(void)
{
	return calloc(1, sizeof(struct hello_faillog));
}

void hello_faillog_free(struct hello_faillog *fl)
{
	free(fl);
}

/* The source key: IPv4 (also v4-mapped) or an IPv6 /64. */
static void source_key(const struct sockaddr_storage *ss, int *family,
		       uint8_t key[8])
{
	memset(key, 0, 8);
	*family = ss->ss_family;
	if (ss->ss_family == AF_INET) {
		memcpy(key, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)ss)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			*family = AF_INET;
			memcpy(key, a->s6_addr + 12, 4);
		} else {
			memcpy(key, a->s6_addr, 8);
		}
	}
}

bool hello_faillog_note(struct hello_faillog *fl,
			const struct sockaddr_storage *from,
			enum hello_fail why, uint64_t now_ns,
			struct hello_fail_report *out)
{
	uint8_t key[8];
	int family;
	struct fl_slot *s = NULL, *oldest = NULL;

	if ((unsigned)why >= HF_NREASONS)
		why = HF_MALFORMED;
	source_key(from, &family, key);
	for (unsigned i = 0; i < HELLO_FAILLOG_SLOTS; i++) {
		struct fl_slot *x = &fl->slot[i];
		if (x->used && x->family == family && !memcmp(x->key, key, 8)) {
			s = x;
			break;
		}
		/* A free slot first, else the one heard longest ago. */
		if (!oldest ||
		    (oldest->used &&
		     (!x->used || x->last_seen_ns < oldest->last_seen_ns)))
			oldest = x;
	}
	if (!s) {
		s = oldest;
		memset(s, 0, sizeof(*s));
		s->used = true;
		s->family = family;
		memcpy(s->key, key, 8);
	}
	s->last_seen_ns = now_ns;
	if (s->pend.total == 0)
		s->pend.since_ns = now_ns;
	s->pend.count[why]++;
	s->pend.total++;
	if (s->logged && now_ns - s->last_line_ns < HELLO_FAILLOG_INTERVAL_NS)
		return false;
	*out = s->pend;
	memset(&s->pend, 0, sizeof(s->pend));
	s->logged = true;
	s->last_line_ns = now_ns;
	return true;
}

const char *hello_fail_name(enum hello_fail why)
{
	switch (why) {
	case HF_MALFORMED:
		return "malformed";
	case HF_UNKNOWN_KEY:
		return "unknown key id";
	case HF_BAD_MAC:
		return "bad MAC";
	case HF_OLD_TIMESTAMP:
		return "old timestamp";
	case HF_RATE_LIMITED:
		return "over the HELLO rate";
	case HF_NREASONS:
		break;
	}
	return "?";
}

const char *hello_fail_report_str(const struct hello_fail_report *r, char *buf,
				  size_t n)
{
	size_t off = 0;
	if (n)
		buf[0] = 0;
	for (int i = 0; i < HF_NREASONS && off < n; i++) {
		if (!r->count[i])
			continue;
		int w =
		    snprintf(buf + off, n - off, "%s%s (%llu)", off ? ", " : "",
			     hello_fail_name((enum hello_fail)i),
			     (unsigned long long)r->count[i]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	return buf;
}
