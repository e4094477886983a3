/*
 * Parsers for everything a user types into ttt-linkemu, on the command line
 * or the control socket. Numbers are read by hand rather than with strtod so
 * that "0x10ms", " 5ms", "nan%" or "1e9s" are refused instead of guessed at:
 * a test tool that silently misreads its impairment produces lying tests.
 */
#include "emu.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

struct unit {
	const char *name;
	double mult;
};

/* Reads "123", "1.5", ".5": digits with at most one dot. *rest points past
 * the number. Returns 0 or -EINVAL when no digit was found. */
static int parse_decimal(const char *s, double *v, const char **rest)
{
	double val = 0, scale = 1;
	int digits = 0, dot = 0;
	const char *p = s;

	for (; *p; p++) {
		if (*p >= '0' && *p <= '9') {
			if (++digits > 15)
				return -ERANGE;
			if (dot) {
				scale /= 10;
				val += (*p - '0') * scale;
			} else {
				val = val * 10 + (*p - '0');
			}
		} else if (*p == '.' && !dot) {
			dot = 1;
		} else {
			break;
		}
	}
	if (!digits)
		return -EINVAL;
	*v = val;
	*rest = p;
	return 0;
}

/* A decimal number followed by one of units (exact, case-sensitive). A bare
 * "0" needs no unit since zero is zero in any of them. */
static int parse_with_unit(const char *s, const struct unit *units, double *out)
{
	const char *rest;
	double v;

	if (!s || parse_decimal(s, &v, &rest) < 0)
		return -EINVAL;
	if (*rest == '\0')
		return v == 0 ? (*out = 0, 0) : -EINVAL;
	for (const struct unit *u = units; u->name; u++) {
		if (strcmp(rest, u->name) == 0) {
			*out = v * u->mult;
			return 0;
		}
	}
	return -EINVAL;
}

static const struct unit time_units[] = {
    {"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {NULL, 0},
};

int parse_duration_ns(const char *s, uint64_t *ns, struct err *e)
{
	double v;

	if (parse_with_unit(s, time_units, &v) < 0)
		return err_set(e, -EINVAL,
			       "invalid duration '%s': expected a number with "
			       "a unit ns, us, ms or s (e.g. 20ms, 1.5s)",
			       s ? s : "");
	if (v > 3600e9)
		return err_set(e, -ERANGE,
			       "duration '%s' is too long: at most 3600s", s);
	*ns = (uint64_t)(v + 0.5);
	return 0;
}

static const struct unit rate_units[] = {
    {"bit", 1}, {"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9}, {NULL, 0},
};

int parse_rate_bps(const char *s, uint64_t *bps, struct err *e)
{
	double v;

	if (s && (strcmp(s, "off") == 0 || strcmp(s, "unlimited") == 0)) {
		*bps = 0;
		return 0;
	}
	if (parse_with_unit(s, rate_units, &v) < 0)
		return err_set(
		    e, -EINVAL,
		    "invalid rate '%s': expected a number with a unit "
		    "bit, kbit, mbit or gbit (e.g. 20mbit), or off",
		    s ? s : "");
	if (v != 0 && (v < 1e3 || v > 100e9))
		return err_set(e, -ERANGE,
			       "rate '%s' out of range: 1kbit to 100gbit, or 0 "
			       "for unlimited",
			       s);
	*bps = (uint64_t)(v + 0.5);
	return 0;
}

int parse_percent(const char *s, double *frac, struct err *e)
{
	static const struct unit pct[] = {{"%", 0.01}, {NULL, 0}};
	double v;

	if (parse_with_unit(s, pct, &v) < 0)
		return err_set(e, -EINVAL,
			       "invalid percentage '%s': expected a number "
			       "followed by %% (e.g. 2%%, 0.5%%)",
			       s ? s : "");
	if (v > 1)
		return err_set(e, -ERANGE,
			       "percentage '%s' out of range: 0%% to 100%%", s);
	*frac = v;
	return 0;
}

static const struct unit size_units[] = {
    {"b", 1},	 {"kb", 1e3},	     {"kib", 1024},
    {"mb", 1e6}, {"mib", 1048576.0}, {NULL, 0},
};

int parse_size_bytes(const char *s, uint64_t *bytes, struct err *e)
{
	double v;

	if (parse_with_unit(s, size_units, &v) < 0)
		return err_set(
		    e, -EINVAL,
		    "invalid size '%s': expected a number with a unit "
		    "b, kb, kib, mb or mib (e.g. 64kb)",
		    s ? s : "");
	if (v > 1073741824.0)
		return err_set(e, -ERANGE, "size '%s' too large: at most 1gib",
			       s);
	*bytes = (uint64_t)(v + 0.5);
	return 0;
}

int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out,
	       struct err *e)
{
	uint64_t v = 0;
	const char *p = s;

	if (!s || !*s)
		goto bad;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			goto range;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v < min || v > max)
		goto range;
	*out = v;
	return 0;
bad:
	return err_set(e, -EINVAL, "invalid number '%s': expected digits only",
		       s ? s : "");
range:
	return err_set(e, -ERANGE,
		       "number '%s' out of range: expected %llu to %llu", s,
		       (unsigned long long)min, (unsigned long long)max);
}

int parse_on_off(const char *s, bool *on, struct err *e)
{
	if (s && (strcmp(s, "on") == 0 || strcmp(s, "1") == 0 ||
		  strcmp(s, "yes") == 0)) {
		*on = true;
		return 0;
	}
	if (s && (strcmp(s, "off") == 0 || strcmp(s, "0") == 0 ||
		  strcmp(s, "no") == 0)) {
		*on = false;
		return 0;
	}
	return err_set(e, -EINVAL, "invalid switch '%s': expected on or off",
		       s ? s : "");
}

/* Numeric host only: names would make a test depend on the resolver. */
static int parse_host(const char *h, uint16_t port, struct emu_addr *a)
{
	memset(a, 0, sizeof(*a));
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;

	if (inet_pton(AF_INET, h, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		a->len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, h, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		a->len = sizeof(*s6);
		return 0;
	}
	return -EINVAL;
}

int parse_addr_port(const char *s, struct emu_addr *a, struct err *e)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *hs;
	size_t hlen;
	uint64_t port;

	if (!s || !*s)
		goto bad;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			goto bad;
		hs = s + 1;
		hlen = (size_t)(close - hs);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon)
			goto bad; /* bare IPv6 needs brackets */
		hs = s;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= sizeof(host))
		goto bad;
	memcpy(host, hs, hlen);
	host[hlen] = '\0';
	if (parse_uint(colon + 1, 1, 65535, &port, NULL) < 0)
		return err_set(e, -EINVAL,
			       "invalid port in '%s': expected 1 to 65535", s);
	if (parse_host(host, (uint16_t)port, a) < 0 ||
	    (s[0] == '[') != (a->ss.ss_family == AF_INET6))
		goto bad;
	return 0;
bad:
	return err_set(e, -EINVAL,
		       "invalid address '%s': expected IPv4:PORT or "
		       "[IPv6]:PORT (e.g. 127.0.0.1:5000, [::1]:5000)",
		       s ? s : "");
}

int parse_addr(const char *s, struct emu_addr *a, struct err *e)
{
	char host[INET6_ADDRSTRLEN];
	size_t n = s ? strlen(s) : 0;

	if (n >= 2 && s[0] == '[' && s[n - 1] == ']' && n - 2 < sizeof(host)) {
		memcpy(host, s + 1, n - 2);
		host[n - 2] = '\0';
		if (strchr(host, ':') && parse_host(host, 0, a) == 0)
			return 0;
	} else if (n > 0 && parse_host(s, 0, a) == 0) {
		return 0;
	}
	return err_set(e, -EINVAL,
		       "invalid address '%s': expected a numeric IPv4 or "
		       "IPv6 address without port (e.g. 127.0.0.2, ::1)",
		       s ? s : "");
}

/* "0s:20mbit,10s:6mbit,20s:20mbit": TIME:RATE steps, times from the start
 * and strictly increasing. *out is written only on success. */
int parse_rate_schedule(const char *s, struct imp_sched *out, struct err *e)
{
	struct imp_sched sc;
	char buf[IMP_SCHED_TEXT];
	struct err sub = {{0}};
	char *item, *next;

	if (!s || !*s)
		return err_set(e, -EINVAL,
			       "invalid rate schedule '': expected "
			       "TIME:RATE,TIME:RATE... (e.g. "
			       "0s:20mbit,10s:6mbit) or off");
	if (strlen(s) >= sizeof(buf))
		return err_set(e, -E2BIG,
			       "rate schedule '%.40s...' too long: at most %zu "
			       "characters",
			       s, sizeof(buf) - 1);
	memset(&sc, 0, sizeof(sc));
	strcpy(buf, s);
	for (item = buf; item; item = next) {
		char *colon;
		uint64_t at, bps;
		next = strchr(item, ',');
		if (next)
			*next++ = '\0';
		colon = strchr(item, ':');
		if (!*item || !colon)
			return err_set(e, -EINVAL,
				       "invalid rate schedule '%s': step '%s' "
				       "is not TIME:RATE (e.g. 10s:6mbit)",
				       s, item);
		*colon = '\0';
		if (parse_duration_ns(item, &at, &sub) < 0 ||
		    parse_rate_bps(colon + 1, &bps, &sub) < 0)
			return err_set(e, -EINVAL,
				       "invalid rate schedule '%s': %s", s,
				       sub.msg);
		if (sc.n && at <= sc.at_ns[sc.n - 1])
			return err_set(e, -EINVAL,
				       "invalid rate schedule '%s': step at "
				       "'%s' is not after the one before",
				       s, item);
		if (sc.n == IMP_SCHED_MAX)
			return err_set(e, -E2BIG,
				       "invalid rate schedule '%s': more than "
				       "%d steps",
				       s, IMP_SCHED_MAX);
		sc.at_ns[sc.n] = at;
		sc.bps[sc.n++] = bps;
	}
	strcpy(sc.text, s);
	*out = sc;
	return 0;
}

/* "10%/1s": the walk's largest step per interval, and the interval. */
int parse_rate_walk(const char *s, double *pct, uint64_t *interval_ns,
		    struct err *e)
{
	char buf[64];
	const char *slash = s ? strchr(s, '/') : NULL;
	struct err sub = {{0}};
	double p;
	uint64_t iv;

	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return err_set(e, -EINVAL,
			       "invalid rate walk '%s': expected "
			       "PERCENT/INTERVAL (e.g. 10%%/1s) or off",
			       s ? s : "");
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	if (parse_percent(buf, &p, &sub) < 0 ||
	    parse_duration_ns(slash + 1, &iv, &sub) < 0)
		return err_set(e, -EINVAL, "invalid rate walk '%s': %s", s,
			       sub.msg);
	if (p <= 0 || p > 0.5)
		return err_set(e, -ERANGE,
			       "invalid rate walk '%s': step must be above 0%% "
			       "and at most 50%%",
			       s);
	if (iv < 10 * NS_PER_MS)
		return err_set(e, -ERANGE,
			       "invalid rate walk '%s': interval must be at "
			       "least 10ms",
			       s);
	*pct = p;
	*interval_ns = iv;
	return 0;
}
