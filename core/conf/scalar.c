/*
 * Scalar parsers: one config string -> one typed value. Units (rates,
 * sizes, durations, percentages), integers, booleans, plugin option values,
 * literal addresses and prefixes. No YAML here: plugin options that arrive
 * as JSON (control socket, peer messages: core/peerctl.c) are classified by
 * the same config_opt_set().
 */
#include "conf/internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* Unit parsers                                                        */
/* ------------------------------------------------------------------ */

struct unit {
	const char *name;
	uint64_t mult;
};

/* Rates are bits per second; the prefix letter may be upper case, the rest
 * may not, so "MBps" (bytes?) is refused instead of silently misread. */
static const struct unit rate_units[] = {
    {"bit", 1},		  {"bps", 1},		{"k", 1000},
    {"kbit", 1000},	  {"kbps", 1000},	{"K", 1000},
    {"Kbit", 1000},	  {"Kbps", 1000},	{"m", 1000000},
    {"mbit", 1000000},	  {"mbps", 1000000},	{"M", 1000000},
    {"Mbit", 1000000},	  {"Mbps", 1000000},	{"g", 1000000000},
    {"gbit", 1000000000}, {"gbps", 1000000000}, {"G", 1000000000},
    {"Gbit", 1000000000}, {"Gbps", 1000000000},
};

static const struct unit size_units[] = {
    {"B", 1},
    {"kB", 1000},
    {"KB", 1000},
    {"MB", 1000000},
    {"GB", 1000000000},
    {"TB", 1000000000000ULL},
    {"KiB", 1ULL << 10},
    {"MiB", 1ULL << 20},
    {"GiB", 1ULL << 30},
    {"TiB", 1ULL << 40},
};

/* Durations are parsed in microseconds. */
static const struct unit duration_units[] = {
    {"us", 1},
    {"ms", 1000},
    {"s", 1000000},
    {"m", 60000000},
};

/* Percentages are parsed in parts per million. */
static const struct unit percent_units[] = {
    {"%", 10000},
};

/*
 * Parses "<digits>[.<digits>][ ]<unit>" exactly. The result must be a whole
 * number of base units and fit in 64 bits: "1.5gbit" is 1500000000, "0.5B"
 * is refused rather than rounded. A bare number is allowed only when
 * !unit_required, or when it is zero (zero means the same in every unit).
 * Returns 0, -EINVAL (bad syntax or unit) or -ERANGE (too large).
 */
static int parse_scaled(const char *s, const struct unit *units, size_t n_units,
			bool unit_required, uint64_t *out)
{
	unsigned __int128 ip = 0, frac = 0, scale = 1, total;
	bool overflow = false;
	const char *p = s;
	uint64_t mult = 0;

	if (!s || !out || !isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (!overflow) {
			ip = ip * 10 + (unsigned)(*p - '0');
			if (ip > UINT64_MAX)
				overflow = true;
		}
	}
	if (*p == '.') {
		int nd = 0;
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		for (; isdigit((unsigned char)*p); p++) {
			/* 18 decimals is far past any meaningful precision. */
			if (++nd > 18)
				return -EINVAL;
			frac = frac * 10 + (unsigned)(*p - '0');
			scale *= 10;
		}
	}
	while (*p == ' ')
		p++;
	if (*p == '\0') {
		if (unit_required && (overflow || ip != 0 || frac != 0))
			return -EINVAL;
		mult = 1;
	} else {
		for (size_t i = 0; i < n_units; i++) {
			if (strcmp(p, units[i].name) == 0) {
				mult = units[i].mult;
				break;
			}
		}
		if (mult == 0)
			return -EINVAL;
	}
	if (overflow)
		return -ERANGE;
	if ((frac * mult) % scale != 0)
		return -EINVAL;
	total = ip * mult + frac * mult / scale;
	if (total > UINT64_MAX)
		return -ERANGE;
	*out = (uint64_t)total;
	return 0;
}

int config_parse_rate(const char *s, uint64_t *bps)
{
	return parse_scaled(s, rate_units,
			    sizeof(rate_units) / sizeof(rate_units[0]), true,
			    bps);
}

int config_parse_size(const char *s, uint64_t *bytes)
{
	return parse_scaled(s, size_units,
			    sizeof(size_units) / sizeof(size_units[0]), false,
			    bytes);
}

/* Microsecond units exist so "2500us" reads naturally, but the daemon
 * counts milliseconds: a value that is not whole milliseconds is refused. */
int config_parse_duration_ms(const char *s, uint32_t *ms)
{
	uint64_t us;
	int ret = parse_scaled(
	    s, duration_units,
	    sizeof(duration_units) / sizeof(duration_units[0]), true, &us);
	if (ret)
		return ret;
	if (us % 1000 != 0)
		return -EINVAL;
	if (us / 1000 > UINT32_MAX)
		return -ERANGE;
	*ms = (uint32_t)(us / 1000);
	return 0;
}

int config_parse_percent_ppm(const char *s, uint32_t *ppm)
{
	uint64_t v;
	int ret = parse_scaled(s, percent_units, 1, true, &v);
	if (ret)
		return ret;
	if (v > 1000000)
		return -ERANGE;
	*ppm = (uint32_t)v;
	return 0;
}

/* Unsigned decimal integer, digits only (no sign, no hex, no spaces). */
int cfg_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

bool cfg_word_is(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcasecmp(s, *words) == 0)
			return true;
	return false;
}

const char *const cfg_true_words[] = {"true", "yes", "on", NULL};
const char *const cfg_false_words[] = {"false", "no", "off", NULL};

/* [+-]?digits: an integer as written, nothing around it. */
static bool looks_integer(const char *s)
{
	if (*s == '+' || *s == '-')
		s++;
	if (!isdigit((unsigned char)*s))
		return false;
	while (isdigit((unsigned char)*s))
		s++;
	return *s == '\0';
}

/* [+-]?(digits[.digits*]|.digits)([eE][+-]?digits)? : what strtod would
 * accept minus hex floats, inf and nan, which are not config numbers. */
static bool looks_decimal(const char *s)
{
	bool digits = false;
	if (*s == '+' || *s == '-')
		s++;
	for (; isdigit((unsigned char)*s); s++)
		digits = true;
	if (*s == '.')
		for (s++; isdigit((unsigned char)*s); s++)
			digits = true;
	if (!digits)
		return false;
	/* The exponent is an integer, written out to the end. */
	if (*s == 'e' || *s == 'E')
		return looks_integer(s + 1);
	return *s == '\0';
}

int config_opt_set(struct cfg_opt *o, const char *key, const char *str,
		   uint32_t line)
{
	if (!o || !key || !str || !*key)
		return -EINVAL;
	if (strlen(key) >= sizeof(o->key) || strlen(str) >= sizeof(o->str))
		return -ENAMETOOLONG;
	memset(o, 0, sizeof(*o));
	strcpy(o->key, key);
	strcpy(o->str, str);
	o->line = line;
	o->type = TTT_OPT_STRING;
	if (looks_integer(str)) {
		char *end;
		errno = 0;
		long long v = strtoll(str, &end, 10);
		if (errno == 0 && *end == '\0') {
			o->type = TTT_OPT_INT;
			o->i = v;
			o->d = (double)v;
			return 0;
		}
		/* Too big for int64: still a number, so fall through to float.
		 */
	}
	if (cfg_word_is(str, cfg_true_words) ||
	    cfg_word_is(str, cfg_false_words)) {
		o->type = TTT_OPT_BOOL;
		o->b = cfg_word_is(str, cfg_true_words);
		return 0;
	}
	if (looks_decimal(str)) {
		char *end;
		errno = 0;
		double d = strtod(str, &end);
		if (errno == 0 && *end == '\0' && isfinite(d)) {
			o->type = TTT_OPT_FLOAT;
			o->d = d;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Address parsers                                                     */
/* ------------------------------------------------------------------ */

void cfg_sa_set(struct cfg_sockaddr *a, int family, const void *addr,
		uint16_t port)
{
	memset(a, 0, sizeof(*a));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&a->ss;
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, addr, sizeof(in->sin_addr));
		a->len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		memcpy(&in6->sin6_addr, addr, sizeof(in6->sin6_addr));
		a->len = sizeof(*in6);
	}
}

uint16_t cfg_sa_port(const struct cfg_sockaddr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return 0;
}

void cfg_sa_set_port(struct cfg_sockaddr *a, uint16_t port)
{
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
	else if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
}

/* A literal IPv4 or IPv6 address (no host names: loading a config never
 * touches the network). */
int cfg_parse_ip(const char *s, uint16_t port, struct cfg_sockaddr *a)
{
	unsigned char buf[sizeof(struct in6_addr)];
	if (inet_pton(AF_INET, s, buf) == 1)
		cfg_sa_set(a, AF_INET, buf, port);
	else if (inet_pton(AF_INET6, s, buf) == 1)
		cfg_sa_set(a, AF_INET6, buf, port);
	else
		return -EINVAL;
	return 0;
}

static int parse_port(const char *s, uint16_t *port)
{
	uint64_t v;
	if (cfg_parse_u64(s, &v) || v == 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* "192.0.2.1", "192.0.2.1:5801", "2001:db8::1", "[2001:db8::1]:5801".
 * The port is 0 when not given (the caller picks a default). */
int cfg_parse_endpoint(const char *s, struct cfg_sockaddr *a)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = NULL;
	size_t hlen;
	uint16_t p = 0;
	bool bracket = *s == '[';

	if (bracket) {
		const char *close = strchr(s, ']');
		if (!close)
			return -EINVAL;
		hlen = (size_t)(close - s - 1);
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return -EINVAL;
		s++;
	} else {
		const char *colon = strchr(s, ':');
		hlen = strlen(s);
		if (colon && !strchr(colon + 1, ':')) {
			hlen = (size_t)(colon - s);
			port = colon + 1;
		}
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (port && parse_port(port, &p))
		return -EINVAL;
	if (cfg_parse_ip(host, p, a))
		return -EINVAL;
	/* Brackets are for IPv6 only. */
	if (bracket && a->ss.ss_family != AF_INET6)
		return -EINVAL;
	return 0;
}

/* "10.77.0.2/24" (or without /plen when !need_len: a host address). */
int cfg_parse_prefix(const char *s, int family, bool need_len,
		     struct cfg_prefix *pfx)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t hlen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned max = family == AF_INET ? 32 : 128;
	uint64_t plen = max;

	if (hlen == 0 || hlen >= sizeof(host) || (!slash && need_len))
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (slash) {
		if (strlen(slash + 1) > 3 || cfg_parse_u64(slash + 1, &plen) ||
		    plen < 1 || plen > max)
			return -EINVAL;
	}
	memset(pfx, 0, sizeof(*pfx));
	if (inet_pton(family, host, &pfx->addr) != 1)
		return -EINVAL;
	pfx->family = family;
	pfx->plen = (uint8_t)plen;
	return 0;
}

bool cfg_prefix_same_addr(const struct cfg_prefix *a,
			  const struct cfg_prefix *b)
{
	if (a->family == 0 || a->family != b->family)
		return false;
	if (a->family == AF_INET)
		return a->addr.v4.s_addr == b->addr.v4.s_addr;
	return memcmp(&a->addr.v6, &b->addr.v6, sizeof(a->addr.v6)) == 0;
}
