/*
 * Configuration loader: one YAML file -> struct config, fully validated
 * before anything starts. libyaml's document API keeps a line:column mark on
 * every node, so each error reads FILE:LINE:COL: KEY: what was wrong, quoting
 * the bad value and saying what was expected.
 *
 * Each section is a static table of fields (key, kind, offset, limits, roles):
 * adding a key is one table line, and "unknown key" errors can list the valid
 * ones. Everything lives in this one file on purpose: the fuzz harness and
 * tuntunctl link it alone with libyaml and log.c.
 */
#include "conf/config.h"
#include "base/log.h"
#include "wire/wire.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <yaml.h>

/* A config is a few kilobytes; refusing huge files bounds memory use. */
#define CFG_FILE_MAX	 (1024 * 1024)
#define CFG_DEFAULT_PORT 5800
/* Key paths such as "scheduler.upstream.weights.dsl" in messages. */
#define CFG_KEYPATH_MAX 160
/* Deeper than any real config; libyaml's scanner is quadratic in nesting
 * depth, so hostile input is stopped here before it costs minutes. */
#define CFG_DEPTH_MAX 32
/* Nodes a plugin option tree may hold: bounds work on hostile input. */
#define CFG_OPT_NODES_MAX 256

/* ------------------------------------------------------------------ */
/* Unit parsers (also used by the control socket)                      */
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
static int parse_u64(const char *s, uint64_t *out)
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

static bool word_is(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcasecmp(s, *words) == 0)
			return true;
	return false;
}

static const char *const true_words[] = {"true", "yes", "on", NULL};
static const char *const false_words[] = {"false", "no", "off", NULL};

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
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
	}
	return *s == '\0';
}

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
	if (word_is(str, true_words) || word_is(str, false_words)) {
		o->type = TTT_OPT_BOOL;
		o->b = word_is(str, true_words);
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

static void sa_set(struct cfg_sockaddr *a, int family, const void *addr,
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

static uint16_t sa_port(const struct cfg_sockaddr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return 0;
}

static void sa_set_port(struct cfg_sockaddr *a, uint16_t port)
{
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
	else if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
}

/* A literal IPv4 or IPv6 address (no host names: loading a config never
 * touches the network). */
static int parse_ip(const char *s, uint16_t port, struct cfg_sockaddr *a)
{
	unsigned char buf[sizeof(struct in6_addr)];
	if (inet_pton(AF_INET, s, buf) == 1)
		sa_set(a, AF_INET, buf, port);
	else if (inet_pton(AF_INET6, s, buf) == 1)
		sa_set(a, AF_INET6, buf, port);
	else
		return -EINVAL;
	return 0;
}

static int parse_port(const char *s, uint16_t *port)
{
	uint64_t v;
	if (parse_u64(s, &v) || v == 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* "192.0.2.1", "192.0.2.1:5801", "2001:db8::1", "[2001:db8::1]:5801".
 * The port is 0 when not given (the caller picks a default). */
static int parse_endpoint(const char *s, struct cfg_sockaddr *a)
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
	if (parse_ip(host, p, a))
		return -EINVAL;
	/* Brackets are for IPv6 only. */
	if (bracket && a->ss.ss_family != AF_INET6)
		return -EINVAL;
	return 0;
}

/* "10.77.0.2/24" (or without /plen when !need_len: a host address). */
static int parse_prefix(const char *s, int family, bool need_len,
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
		if (strlen(slash + 1) > 3 || parse_u64(slash + 1, &plen) ||
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

static bool prefix_same_addr(const struct cfg_prefix *a,
			     const struct cfg_prefix *b)
{
	if (a->family == 0 || a->family != b->family)
		return false;
	if (a->family == AF_INET)
		return a->addr.v4.s_addr == b->addr.v4.s_addr;
	return memcmp(&a->addr.v6, &b->addr.v6, sizeof(a->addr.v6)) == 0;
}

/* ------------------------------------------------------------------ */
/* Loader context and messages                                         */
/* ------------------------------------------------------------------ */

struct cfg_ctx {
	const char *name; /* file name for messages */
	struct err *e;
	yaml_document_t *doc;
	unsigned char *seen; /* per node: already used (catches aliases) */
	size_t n_nodes;
	struct config *cfg;
	const yaml_node_t *root;
	const yaml_node_t *tun_node;
	const yaml_node_t *links_node;
	const yaml_node_t *link_nodes[CFG_MAX_LINKS];
	const yaml_node_t *link_src[CFG_MAX_LINKS];
	const yaml_node_t *client_addr[CFG_MAX_CLIENTS][2]; /* v4, v6 */
	unsigned opt_nodes;
	char qbuf[256];
	char keys[300];
};

static const char *sval(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* Quotes a user value for a message: at most 48 characters, control and
 * non-ASCII bytes escaped, so a hostile file cannot forge log lines. */
static const char *quote(struct cfg_ctx *c, const char *s)
{
	size_t o = 0, cap = sizeof(c->qbuf);
	c->qbuf[o++] = '"';
	for (size_t i = 0; s[i]; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (i >= 48) {
			memcpy(c->qbuf + o, "...", 3);
			o += 3;
			break;
		}
		if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
			o += (size_t)snprintf(c->qbuf + o, cap - o, "\\x%02x",
					      ch);
		} else {
			c->qbuf[o++] = (char)ch;
		}
	}
	c->qbuf[o++] = '"';
	c->qbuf[o] = '\0';
	return c->qbuf;
}

/* What a node is, for "expected X, got Y". */
static const char *got_str(struct cfg_ctx *c, const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_SCALAR_NODE:
		if (n->data.scalar.length == 0 &&
		    n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
			return "an empty value";
		return quote(c, sval(n));
	default:
		return "nothing";
	}
}

/* Formats FILE:LINE:COL: KEY: message into c->e; returns -EINVAL. */
static int __attribute__((format(printf, 4, 5)))
fail(struct cfg_ctx *c, const yaml_node_t *n, const char *path, const char *fmt,
     ...)
{
	char msg[400];
	va_list ap;
	unsigned long line = n ? n->start_mark.line + 1 : 1;
	unsigned long col = n ? n->start_mark.column + 1 : 1;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (path && *path)
		return err_set(c->e, -EINVAL, "%s:%lu:%lu: %s: %s", c->name,
			       line, col, path, msg);
	return err_set(c->e, -EINVAL, "%s:%lu:%lu: %s", c->name, line, col,
		       msg);
}

/* path + "." + key, cut at CFG_KEYPATH_MAX: only ever used in messages. */
static void join(char *out, const char *path, const char *key)
{
	size_t o = 0;
	for (const char *s = path; *s && o < CFG_KEYPATH_MAX - 1; s++)
		out[o++] = *s;
	if (*path && o < CFG_KEYPATH_MAX - 1)
		out[o++] = '.';
	for (const char *s = key; *s && o < CFG_KEYPATH_MAX - 1; s++)
		out[o++] = *s;
	out[o] = '\0';
}

/*
 * Fetches a node for use. Each node may be used once: libyaml resolves an
 * alias to the anchored node itself, so a second use would be an alias,
 * which can build a cycle (&a [*a]) or a billion laughs. prescan() already
 * refuses aliases with their position; this check is what guarantees the
 * walk stays linear in the input whatever the scan lets through.
 */
static int take(struct cfg_ctx *c, int id, const char *path,
		const yaml_node_t **out)
{
	const yaml_node_t *n = yaml_document_get_node(c->doc, id);
	if (!n)
		return fail(c, NULL, path, "YAML node %d missing", id);
	if (c->seen[id - 1])
		return fail(c, n, path,
			    "YAML aliases (*name) are not supported; write "
			    "the value out");
	c->seen[id - 1] = 1;
	if (n->type == YAML_SCALAR_NODE &&
	    strlen(sval(n)) != n->data.scalar.length)
		return fail(c, n, path, "value contains a NUL character");
	*out = n;
	return 0;
}

/*
 * Takes the key of pair p of mapping map: it must be a scalar and must not
 * repeat an earlier key (libyaml keeps both, the YAML spec forbids it).
 * On success *key is the node and sub the key path.
 */
static int take_key(struct cfg_ctx *c, const yaml_node_t *map,
		    const yaml_node_pair_t *p, const char *path,
		    const yaml_node_t **key, char *sub)
{
	int ret = take(c, p->key, path, key);
	if (ret)
		return ret;
	if ((*key)->type != YAML_SCALAR_NODE)
		return fail(c, *key, path, "keys must be plain words, got %s",
			    got_str(c, *key));
	join(sub, path, sval(*key));
	for (const yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p;
	     q++) {
		const yaml_node_t *k = yaml_document_get_node(c->doc, q->key);
		if (k && k->type == YAML_SCALAR_NODE &&
		    strcmp(sval(k), sval(*key)) == 0)
			return fail(c, *key, sub,
				    "duplicate key (first given at line %lu)",
				    (unsigned long)k->start_mark.line + 1);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Field tables                                                        */
/* ------------------------------------------------------------------ */

enum fkind {
	K_STR,	    /* string, size = buffer size, min = 1 if required */
	K_NAME,	    /* [A-Za-z0-9_-], starts alphanumeric */
	K_IFNAME,   /* network interface name */
	K_USER,	    /* user or group name */
	K_PLUGIN,   /* [a-z0-9_-] as sched.h requires */
	K_BOOL,	    /* bool */
	K_U32,	    /* uint32_t in [min, max] */
	K_PORT,	    /* uint32_t port 1..65535 */
	K_DURATION, /* uint32_t milliseconds in [min, max] */
	K_RATE,	    /* uint64_t bit/s */
	K_SIZE,	    /* uint64_t bytes */
	K_PERCENT,  /* uint32_t ppm */
	K_MTU,	    /* uint32_t, "auto" = 0 */
	K_MODE,	    /* uint32_t octal permission bits */
	K_ENUM,	    /* int, from names */
	K_IP,	    /* struct cfg_sockaddr, address only */
	K_ENDPOINT, /* struct cfg_sockaddr, address[:port] */
	K_PREFIX4,  /* struct cfg_prefix, IPv4 */
	K_PREFIX6,  /* struct cfg_prefix, IPv6 */
	K_SECTION,  /* a nested mapping or list handled by `section` */
};

enum { R_CLIENT = 1, R_SERVER = 2, R_ANY = 3 };
#define PLEN_REQUIRED 1u

struct enum_name {
	const char *name;
	int value;
};

typedef int (*section_fn)(struct cfg_ctx *c, const yaml_node_t *n,
			  const char *path, void *obj);

struct field {
	const char *key;
	enum fkind kind;
	unsigned roles; /* R_* bits where the key is allowed; 0 = R_ANY */
	size_t off;	/* offset of the target in the section's object */
	size_t size;	/* K_STR and names: buffer size (max length + 1) */
	uint64_t min, max;
	unsigned flags;
	const struct enum_name *names; /* K_ENUM, NULL-terminated */
	section_fn section;	       /* K_SECTION */
};

#define FLD(k, kind_, type, member, ...)                                       \
	{                                                                      \
		.key = k, .kind = kind_, .off = offsetof(type, member),        \
		.size = sizeof(((type *)0)->member), __VA_ARGS__               \
	}

static const struct enum_name role_names[] = {
    {"client", ROLE_CLIENT}, {"server", ROLE_SERVER}, {NULL, 0}};
static const struct enum_name crypto_names[] = {{"encrypt", CRYPTO_ENCRYPT},
						{"auth", CRYPTO_AUTH},
						{"none", CRYPTO_NONE},
						{NULL, 0}};
static const struct enum_name cipher_names[] = {
    {"auto", CFG_CIPHER_AUTO},
    {"aes-256-gcm", CFG_CIPHER_AES256GCM},
    {"chacha20-poly1305", CFG_CIPHER_CHACHA20},
    {NULL, 0}};
static const struct enum_name level_names[] = {{"error", LOG_ERR},
					       {"warning", LOG_WARNING},
					       {"warn", LOG_WARNING},
					       {"notice", LOG_NOTICE},
					       {"info", LOG_INFO},
					       {"debug", LOG_DEBUG},
					       {NULL, 0}};

static const char *role_name(int role)
{
	return role == ROLE_SERVER ? "server" : "client";
}

static unsigned role_bit(int role)
{
	return role == ROLE_SERVER ? R_SERVER : R_CLIENT;
}

static void fmt_ms(char *buf, size_t len, uint64_t ms)
{
	if (ms != 0 && ms % 1000 == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, len, "%llums", (unsigned long long)ms);
}

/* The "expected ..." half of a message for one field. */
static void describe(const struct field *f, char *buf, size_t len)
{
	char lo[24], hi[24];
	size_t o;

	switch (f->kind) {
	case K_STR:
		snprintf(buf, len, "%s of at most %zu bytes",
			 f->min ? "a non-empty string" : "a string",
			 f->size - 1);
		break;
	case K_NAME:
		snprintf(buf, len,
			 "a name of 1 to %zu letters, digits, '-' or '_' "
			 "starting with a letter or digit",
			 f->size - 1);
		break;
	case K_IFNAME:
		snprintf(buf, len,
			 "an interface name of 1 to %zu characters without "
			 "'/', ':' or spaces",
			 f->size - 1);
		break;
	case K_USER:
		snprintf(buf, len,
			 "a user or group name of 1 to %zu letters, digits, "
			 "'.', '-' or '_'",
			 f->size - 1);
		break;
	case K_PLUGIN:
		snprintf(buf, len,
			 "a plugin name of 1 to %zu lowercase letters, digits, "
			 "'-' or '_'",
			 f->size - 1);
		break;
	case K_BOOL:
		snprintf(buf, len, "true or false");
		break;
	case K_U32:
		snprintf(buf, len, "an integer from %llu to %llu",
			 (unsigned long long)f->min,
			 (unsigned long long)f->max);
		break;
	case K_PORT:
		snprintf(buf, len, "a port number from 1 to 65535");
		break;
	case K_DURATION:
		fmt_ms(lo, sizeof(lo), f->min);
		fmt_ms(hi, sizeof(hi), f->max);
		snprintf(buf, len,
			 "a duration like 100ms or 1.5s (units us, ms, s, m) "
			 "from %s to %s",
			 lo, hi);
		break;
	case K_RATE:
		snprintf(buf, len, "a rate like 20mbit or 1.5gbit");
		break;
	case K_SIZE:
		snprintf(buf, len, "a size like 5GiB or 500MB");
		break;
	case K_PERCENT:
		snprintf(buf, len,
			 "a percentage like 5%% or 0.5%%, at most "
			 "100%%");
		break;
	case K_MTU:
		snprintf(buf, len, "auto or an MTU from %llu to %llu",
			 (unsigned long long)f->min,
			 (unsigned long long)f->max);
		break;
	case K_MODE:
		snprintf(buf, len, "an octal file mode like \"0600\"");
		break;
	case K_ENUM:
		o = (size_t)snprintf(buf, len, "one of");
		for (const struct enum_name *n = f->names; n->name && o < len;
		     n++)
			o +=
			    (size_t)snprintf(buf + o, len - o, "%s %s",
					     n == f->names ? "" : ",", n->name);
		break;
	case K_IP:
		snprintf(buf, len,
			 "an IPv4 or IPv6 address like "
			 "198.51.100.7 or 2001:db8::1");
		break;
	case K_ENDPOINT:
		snprintf(buf, len,
			 "an address with an optional port like "
			 "192.0.2.10:5801 or [2001:db8::1]:5801");
		break;
	case K_PREFIX4:
		snprintf(buf, len, "an IPv4 address %s like 10.77.0.2%s",
			 f->flags & PLEN_REQUIRED
			     ? "with a prefix length"
			     : "(optionally with a prefix length)",
			 f->flags & PLEN_REQUIRED ? "/24" : "");
		break;
	case K_PREFIX6:
		snprintf(buf, len, "an IPv6 address %s like fd77::2%s",
			 f->flags & PLEN_REQUIRED
			     ? "with a prefix length"
			     : "(optionally with a prefix length)",
			 f->flags & PLEN_REQUIRED ? "/64" : "");
		break;
	case K_SECTION:
		snprintf(buf, len, "a section");
		break;
	}
}

/* Checks every byte of s against a character class; a name's first byte
 * must additionally be alphanumeric so it never looks like an option. */
static bool name_ok(const char *s, size_t size, const char *extra, bool lower)
{
	size_t n = strlen(s);
	if (n == 0 || n >= size || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x80 || !(isalnum(ch) || strchr(extra, ch)))
			return false;
		if (lower && isupper(ch))
			return false;
	}
	return true;
}

static bool ifname_ok(const char *s, size_t size)
{
	size_t n = strlen(s);
	if (n == 0 || n >= size || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch <= 0x20 || ch >= 0x7f || ch == '/' || ch == ':')
			return false;
	}
	return true;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* YAML's spellings of "nothing" in a plain scalar. */
static bool scalar_is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = {"", "~", "null", NULL};
	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       word_is(sval(n), nulls);
}

/* Converts scalar s for field f into dst. Returns 0 or a negative errno;
 * the caller turns failure into one "expected ..., got ..." message. */
static int convert(const struct field *f, const yaml_node_t *n, void *dst)
{
	const char *s = sval(n);
	uint64_t u;
	uint32_t u32;
	int ret;

	switch (f->kind) {
	case K_STR:
		if (scalar_is_null(n))
			s = "";
		if (strlen(s) >= f->size || strlen(s) < f->min || !printable(s))
			return -EINVAL;
		strcpy(dst, s);
		return 0;
	case K_NAME:
		if (!name_ok(s, f->size, "-_", false))
			return -EINVAL;
		strcpy(dst, s);
		return 0;
	case K_USER:
		if (!name_ok(s, f->size, "-_.", false))
			return -EINVAL;
		strcpy(dst, s);
		return 0;
	case K_PLUGIN:
		if (!name_ok(s, f->size, "-_", true))
			return -EINVAL;
		strcpy(dst, s);
		return 0;
	case K_IFNAME:
		if (!ifname_ok(s, f->size))
			return -EINVAL;
		strcpy(dst, s);
		return 0;
	case K_BOOL:
		if (word_is(s, true_words))
			*(bool *)dst = true;
		else if (word_is(s, false_words))
			*(bool *)dst = false;
		else
			return -EINVAL;
		return 0;
	case K_U32:
		if (parse_u64(s, &u) || u < f->min || u > f->max)
			return -EINVAL;
		*(uint32_t *)dst = (uint32_t)u;
		return 0;
	case K_PORT:
		if (parse_u64(s, &u) || u < 1 || u > 65535)
			return -EINVAL;
		*(uint32_t *)dst = (uint32_t)u;
		return 0;
	case K_DURATION:
		ret = config_parse_duration_ms(s, &u32);
		if (ret || u32 < f->min || u32 > f->max)
			return -EINVAL;
		*(uint32_t *)dst = u32;
		return 0;
	case K_RATE:
		return config_parse_rate(s, dst);
	case K_SIZE:
		return config_parse_size(s, dst);
	case K_PERCENT:
		return config_parse_percent_ppm(s, dst);
	case K_MTU:
		if (strcmp(s, "auto") == 0) {
			*(uint32_t *)dst = 0;
			return 0;
		}
		if (parse_u64(s, &u) || u < f->min || u > f->max)
			return -EINVAL;
		*(uint32_t *)dst = (uint32_t)u;
		return 0;
	case K_MODE:
		if (strlen(s) < 1 || strlen(s) > 4 ||
		    strspn(s, "01234567") != strlen(s))
			return -EINVAL;
		u = strtoull(s, NULL, 8);
		if (u > 0777)
			return -EINVAL;
		*(uint32_t *)dst = (uint32_t)u;
		return 0;
	case K_ENUM:
		for (const struct enum_name *e = f->names; e->name; e++) {
			if (strcmp(s, e->name) == 0) {
				*(int *)dst = e->value;
				return 0;
			}
		}
		return -EINVAL;
	case K_IP:
		return parse_ip(s, 0, dst);
	case K_ENDPOINT:
		return parse_endpoint(s, dst);
	case K_PREFIX4:
		return parse_prefix(s, AF_INET, f->flags & PLEN_REQUIRED, dst);
	case K_PREFIX6:
		return parse_prefix(s, AF_INET6, f->flags & PLEN_REQUIRED, dst);
	case K_SECTION:
		break;
	}
	return -EINVAL;
}

static int parse_field(struct cfg_ctx *c, const struct field *f,
		       const yaml_node_t *v, const char *path, void *obj)
{
	char expected[200];
	void *dst = (char *)obj + f->off;

	if (f->kind == K_SECTION)
		return f->section(c, v, path, dst);
	if (v->type == YAML_SCALAR_NODE && convert(f, v, dst) == 0)
		return 0;
	describe(f, expected, sizeof(expected));
	return fail(c, v, path, "expected %s, got %s", expected, got_str(c, v));
}

static const char *list_keys(struct cfg_ctx *c, const struct field *f,
			     size_t nf)
{
	size_t o = 0;
	c->keys[0] = '\0';
	for (size_t i = 0; i < nf && o < sizeof(c->keys); i++) {
		if (!(f[i].roles & role_bit(c->cfg->role)))
			continue;
		o += (size_t)snprintf(c->keys + o, sizeof(c->keys) - o, "%s%s",
				      o ? ", " : "", f[i].key);
	}
	return c->keys;
}

/*
 * Walks mapping `map` against the table f: every key must be in the table
 * and allowed for the role. got[i] receives the value node of f[i] (NULL if
 * absent) so callers can check required keys and point at values later.
 */
static int parse_fields(struct cfg_ctx *c, const yaml_node_t *map,
			const char *path, const struct field *f, size_t nf,
			void *obj, const yaml_node_t **got)
{
	for (size_t i = 0; i < nf; i++)
		got[i] = NULL;
	if (map->type != YAML_MAPPING_NODE)
		return fail(c, map, path, "expected a mapping of keys, got %s",
			    got_str(c, map));
	for (const yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		const yaml_node_t *k, *v;
		const struct field *fd = NULL;
		char sub[CFG_KEYPATH_MAX];
		int ret = take_key(c, map, p, path, &k, sub);
		if (ret)
			return ret;
		for (size_t i = 0; i < nf && !fd; i++)
			if (strcmp(f[i].key, sval(k)) == 0)
				fd = &f[i];
		if (!fd || !(fd->roles & R_ANY))
			return fail(c, k, sub,
				    "unknown key; expected one of %s",
				    list_keys(c, f, nf));
		if (!(fd->roles & role_bit(c->cfg->role)))
			return fail(c, k, sub,
				    "only valid with role: %s (this file has "
				    "role: %s)",
				    role_name(c->cfg->role == ROLE_CLIENT
						  ? ROLE_SERVER
						  : ROLE_CLIENT),
				    role_name(c->cfg->role));
		ret = take(c, p->value, sub, &v);
		if (ret)
			return ret;
		ret = parse_field(c, fd, v, sub, obj);
		if (ret)
			return ret;
		got[fd - f] = v;
	}
	return 0;
}

#define NF(t) (sizeof(t) / sizeof((t)[0]))

static int missing(struct cfg_ctx *c, const yaml_node_t *where,
		   const char *path, const char *key, const char *expected)
{
	char sub[CFG_KEYPATH_MAX];
	join(sub, path, key);
	return fail(c, where, sub, "missing; expected %s", expected);
}

/* ------------------------------------------------------------------ */
/* Sections                                                            */
/* ------------------------------------------------------------------ */

struct endpoint {
	struct cfg_sockaddr addr;
	uint32_t port;
};

static const struct field endpoint_fields[] = {
    FLD("address", K_IP, struct endpoint, addr, .roles = R_ANY),
    FLD("port", K_PORT, struct endpoint, port, .roles = R_ANY),
};

/* server: { address, port }: the address is required, port 5800. */
static int sec_server(struct cfg_ctx *c, const yaml_node_t *n, const char *path,
		      void *obj)
{
	struct endpoint ep = {.port = CFG_DEFAULT_PORT};
	const yaml_node_t *got[NF(endpoint_fields)];
	int ret = parse_fields(c, n, path, endpoint_fields, NF(endpoint_fields),
			       &ep, got);
	if (ret)
		return ret;
	if (!got[0])
		return missing(c, n, path, "address",
			       "the server's IPv4 or IPv6 address");
	sa_set_port(&ep.addr, (uint16_t)ep.port);
	*(struct cfg_sockaddr *)obj = ep.addr;
	return 0;
}

/* listen: { address, port }: both optional, default 0.0.0.0:5800. */
static int sec_listen(struct cfg_ctx *c, const yaml_node_t *n, const char *path,
		      void *obj)
{
	struct endpoint ep = {.port = CFG_DEFAULT_PORT};
	const yaml_node_t *got[NF(endpoint_fields)];
	struct in_addr any = {.s_addr = htonl(INADDR_ANY)};
	int ret;

	sa_set(&ep.addr, AF_INET, &any, 0);
	ret = parse_fields(c, n, path, endpoint_fields, NF(endpoint_fields),
			   &ep, got);
	if (ret)
		return ret;
	sa_set_port(&ep.addr, (uint16_t)ep.port);
	*(struct cfg_sockaddr *)obj = ep.addr;
	return 0;
}

static const struct field tun_fields[] = {
    FLD("name", K_IFNAME, struct cfg_tun, name, .roles = R_ANY),
    FLD("address", K_PREFIX4, struct cfg_tun, addr4, .roles = R_ANY,
	.flags = PLEN_REQUIRED),
    FLD("address6", K_PREFIX6, struct cfg_tun, addr6, .roles = R_ANY,
	.flags = PLEN_REQUIRED),
    FLD("mtu", K_MTU, struct cfg_tun, mtu, .roles = R_ANY, .min = 576,
	.max = 65535),
};

static int sec_tun(struct cfg_ctx *c, const yaml_node_t *n, const char *path,
		   void *obj)
{
	struct cfg_tun *t = obj;
	const yaml_node_t *got[NF(tun_fields)];
	int ret = parse_fields(c, n, path, tun_fields, NF(tun_fields), t, got);
	if (ret)
		return ret;
	c->tun_node = n;
	/* IPv6 requires links of at least 1280 bytes (RFC 8200). */
	if (got[3] && t->mtu != 0 && t->mtu < 1280 && t->addr6.family)
		return fail(c, got[3], "tun.mtu",
			    "expected at least 1280 with an IPv6 address, got "
			    "%s",
			    got_str(c, got[3]));
	return 0;
}

/* Adds one plugin option leaf. A quoted scalar is a string whatever it
 * looks like, as YAML says: `version: "1.0"` stays "1.0". */
static int opt_add(struct cfg_ctx *c, struct cfg_sched *s, const char *key,
		   const yaml_node_t *v, const char *path)
{
	struct cfg_opt *o;
	int ret;

	if (s->n_opts >= CFG_MAX_OPTS)
		return fail(c, v, path, "too many plugin options (at most %d)",
			    CFG_MAX_OPTS);
	o = &s->opts[s->n_opts];
	ret = config_opt_set(o, key, sval(v), (uint32_t)v->start_mark.line + 1);
	if (ret == -ENAMETOOLONG)
		return fail(c, v, path,
			    "expected a value of at most %zu bytes, got %s",
			    sizeof(o->str) - 1, got_str(c, v));
	if (ret)
		return fail(c, v, path, "expected an option value, got %s",
			    got_str(c, v));
	if (v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
		o->type = TTT_OPT_STRING;
		o->b = 0;
		o->i = 0;
		o->d = 0;
	}
	s->n_opts++;
	return 0;
}

/* Flattens nested option mappings into dotted keys ("weights.dsl"). */
static int opt_walk(struct cfg_ctx *c, struct cfg_sched *s, const char *prefix,
		    const yaml_node_t *n, const char *path)
{
	if (++c->opt_nodes > CFG_OPT_NODES_MAX)
		return fail(c, n, path, "too many plugin options (at most %d)",
			    CFG_MAX_OPTS);
	if (n->type == YAML_SCALAR_NODE)
		return opt_add(c, s, prefix, n, path);
	if (n->type != YAML_MAPPING_NODE)
		return fail(c, n, path,
			    "plugin options cannot be lists; use a mapping or "
			    "a single value");
	for (const yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		const yaml_node_t *k, *v;
		char sub[CFG_KEYPATH_MAX], key[sizeof(s->opts[0].key)];
		int ret = take_key(c, n, p, path, &k, sub);
		if (ret)
			return ret;
		if (!name_ok(sval(k), sizeof(key), "-_", false))
			return fail(c, k, sub,
				    "expected an option name of letters, "
				    "digits, '-' or '_', got %s",
				    got_str(c, k));
		if ((size_t)snprintf(key, sizeof(key), "%s.%s", prefix,
				     sval(k)) >= sizeof(key))
			return fail(c, k, sub,
				    "option name longer than %zu bytes",
				    sizeof(key) - 1);
		ret = take(c, p->value, sub, &v);
		if (ret)
			return ret;
		ret = opt_walk(c, s, key, v, sub);
		if (ret)
			return ret;
	}
	return 0;
}

static const struct field plugin_field =
    FLD("plugin", K_PLUGIN, struct cfg_sched, plugin, .roles = R_ANY);

/* One direction: `plugin` picks the .so, every other key is an option. */
static int sec_sched_dir(struct cfg_ctx *c, const yaml_node_t *n,
			 const char *path, void *obj)
{
	struct cfg_sched *s = obj;
	bool have_plugin = false;

	if (n->type != YAML_MAPPING_NODE)
		return fail(c, n, path,
			    "expected a mapping like { plugin: roundrobin }, "
			    "got %s",
			    got_str(c, n));
	s->n_opts = 0;
	for (const yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		const yaml_node_t *k, *v;
		char sub[CFG_KEYPATH_MAX];
		int ret = take_key(c, n, p, path, &k, sub);
		if (ret)
			return ret;
		ret = take(c, p->value, sub, &v);
		if (ret)
			return ret;
		if (strcmp(sval(k), "plugin") == 0) {
			ret = parse_field(c, &plugin_field, v, sub, s);
			have_plugin = true;
		} else if (!name_ok(sval(k), sizeof(s->opts[0].key), "-_",
				    false)) {
			ret = fail(c, k, sub,
				   "expected an option name of letters, "
				   "digits, '-' or '_', got %s",
				   got_str(c, k));
		} else {
			ret = opt_walk(c, s, sval(k), v, sub);
		}
		if (ret)
			return ret;
	}
	if (!have_plugin)
		return missing(c, n, path, "plugin",
			       "the scheduler plugin's name, e.g. roundrobin");
	return 0;
}

/* The server schedules only downstream; the client both ways (its
 * downstream choice is sent to the server in HELLO). */
static const struct field sched_fields[] = {
    FLD("upstream", K_SECTION, struct config, sched[TTT_DIR_UPSTREAM],
	.roles = R_CLIENT, .section = sec_sched_dir),
    FLD("downstream", K_SECTION, struct config, sched[TTT_DIR_DOWNSTREAM],
	.roles = R_ANY, .section = sec_sched_dir),
};

static int sec_scheduler(struct cfg_ctx *c, const yaml_node_t *n,
			 const char *path, void *obj)
{
	const yaml_node_t *got[NF(sched_fields)];
	return parse_fields(c, n, path, sched_fields, NF(sched_fields), obj,
			    got);
}

static const struct field link_fields[] = {
    FLD("name", K_NAME, struct cfg_link, name, .roles = R_ANY),
    FLD("interface", K_IFNAME, struct cfg_link, interface, .roles = R_ANY),
    FLD("source", K_ENDPOINT, struct cfg_link, source, .roles = R_ANY),
    FLD("peer", K_ENDPOINT, struct cfg_link, peer, .roles = R_ANY),
    FLD("rate", K_RATE, struct cfg_link, rate_bps, .roles = R_ANY),
    FLD("metered", K_BOOL, struct cfg_link, metered, .roles = R_ANY),
    FLD("quota", K_SIZE, struct cfg_link, quota_bytes, .roles = R_ANY),
    FLD("quota_reset_day", K_U32, struct cfg_link, quota_reset_day,
	.roles = R_ANY, .min = 1, .max = 28),
    FLD("backup", K_BOOL, struct cfg_link, backup, .roles = R_ANY),
    FLD("weight", K_U32, struct cfg_link, weight, .roles = R_ANY, .min = 0,
	.max = 65535),
    FLD("mtu", K_MTU, struct cfg_link, mtu, .roles = R_ANY, .min = 576,
	.max = 65535),
};

static int sec_links(struct cfg_ctx *c, const yaml_node_t *n, const char *path,
		     void *obj)
{
	struct config *cfg = c->cfg;
	uint32_t i = 0;

	(void)obj;
	if (n->type != YAML_SEQUENCE_NODE)
		return fail(c, n, path, "expected a list of links, got %s",
			    got_str(c, n));
	c->links_node = n;
	cfg->n_links = 0;
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++, i++) {
		const yaml_node_t *item, *got[NF(link_fields)];
		struct cfg_link *l;
		char sub[CFG_KEYPATH_MAX];
		int ret;

		snprintf(sub, sizeof(sub), "%s[%u]", path, i);
		ret = take(c, *it, sub, &item);
		if (ret)
			return ret;
		if (cfg->role == ROLE_SERVER)
			return fail(c, item, sub,
				    "a server has no links; leave `links` out "
				    "or empty");
		if (i >= CFG_MAX_LINKS)
			return fail(c, item, sub, "too many links (at most %d)",
				    CFG_MAX_LINKS);
		l = &cfg->links[i];
		memset(l, 0, sizeof(*l));
		l->quota_reset_day = 1;
		ret = parse_fields(c, item, sub, link_fields, NF(link_fields),
				   l, got);
		if (ret)
			return ret;
		if (!got[0])
			return missing(c, item, sub, "name",
				       "a unique link name like dsl or lte");
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(cfg->links[j].name, l->name) == 0)
				return fail(c, got[0], sub,
					    "duplicate link name %s (also "
					    "links[%u])",
					    quote(c, l->name), j);
		c->link_nodes[i] = item;
		c->link_src[i] = got[2];
		cfg->n_links = i + 1;
	}
	return 0;
}

static const struct field client_fields[] = {
    FLD("name", K_NAME, struct cfg_client, name, .roles = R_ANY),
    FLD("key", K_STR, struct cfg_client, key_file, .roles = R_ANY, .min = 1),
    FLD("address", K_PREFIX4, struct cfg_client, addr4, .roles = R_ANY),
    FLD("address6", K_PREFIX6, struct cfg_client, addr6, .roles = R_ANY),
};

static int sec_clients(struct cfg_ctx *c, const yaml_node_t *n,
		       const char *path, void *obj)
{
	struct config *cfg = c->cfg;
	uint32_t i = 0;

	(void)obj;
	if (n->type != YAML_SEQUENCE_NODE)
		return fail(c, n, path, "expected a list of clients, got %s",
			    got_str(c, n));
	cfg->n_clients = 0;
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++, i++) {
		const yaml_node_t *item, *got[NF(client_fields)];
		struct cfg_client *cl;
		char sub[CFG_KEYPATH_MAX];
		int ret;

		snprintf(sub, sizeof(sub), "%s[%u]", path, i);
		ret = take(c, *it, sub, &item);
		if (ret)
			return ret;
		if (i >= CFG_MAX_CLIENTS)
			return fail(c, item, sub,
				    "too many clients (at most %d)",
				    CFG_MAX_CLIENTS);
		cl = &cfg->clients[i];
		memset(cl, 0, sizeof(*cl));
		ret = parse_fields(c, item, sub, client_fields,
				   NF(client_fields), cl, got);
		if (ret)
			return ret;
		if (!got[0])
			return missing(c, item, sub, "name",
				       "a unique client name like laptop");
		if (!got[1])
			return missing(c, item, sub, "key",
				       "the path of the client's key file");
		if (!got[2] && !got[3])
			return missing(c, item, sub, "address",
				       "the client's inner IPv4 `address` "
				       "and/or IPv6 `address6`");
		for (uint32_t j = 0; j < i; j++) {
			const struct cfg_client *o = &cfg->clients[j];
			if (strcmp(o->name, cl->name) == 0)
				return fail(c, got[0], sub,
					    "duplicate client name %s (also "
					    "clients[%u])",
					    quote(c, cl->name), j);
			if (prefix_same_addr(&o->addr4, &cl->addr4))
				return fail(c, got[2], sub,
					    "address %s is also clients[%u]'s",
					    quote(c, sval(got[2])), j);
			if (prefix_same_addr(&o->addr6, &cl->addr6))
				return fail(c, got[3], sub,
					    "address6 %s is also clients[%u]'s",
					    quote(c, sval(got[3])), j);
		}
		c->client_addr[i][0] = got[2];
		c->client_addr[i][1] = got[3];
		cfg->n_clients = i + 1;
	}
	return 0;
}

static const struct field probe_fields[] = {
    FLD("interval", K_DURATION, struct cfg_probe, interval_ms, .roles = R_ANY,
	.min = 1, .max = 60000),
    FLD("timeout", K_DURATION, struct cfg_probe, timeout_ms, .roles = R_ANY,
	.min = 2, .max = 600000),
    FLD("degraded_loss", K_PERCENT, struct cfg_probe, degraded_loss_ppm,
	.roles = R_ANY),
    FLD("degraded_rtt", K_DURATION, struct cfg_probe, degraded_rtt_ms,
	.roles = R_ANY, .min = 0, .max = 60000),
    FLD("loss_window", K_U32, struct cfg_probe, loss_window, .roles = R_ANY,
	.min = 1, .max = 10000),
};

static int sec_probe(struct cfg_ctx *c, const yaml_node_t *n, const char *path,
		     void *obj)
{
	struct cfg_probe *p = obj;
	const yaml_node_t *got[NF(probe_fields)];
	char iv[24];
	int ret =
	    parse_fields(c, n, path, probe_fields, NF(probe_fields), p, got);
	if (ret)
		return ret;
	/* One lost probe must not declare a link down. */
	if ((uint64_t)p->timeout_ms < 2 * (uint64_t)p->interval_ms) {
		fmt_ms(iv, sizeof(iv), p->interval_ms);
		if (got[1])
			return fail(c, got[1], "probe.timeout",
				    "expected at least 2 probe intervals (2 x "
				    "%s), got %s",
				    iv, got_str(c, got[1]));
		return fail(c, got[0], "probe.interval",
			    "%s leaves the default timeout of %ums shorter "
			    "than 2 intervals; raise probe.timeout",
			    got_str(c, got[0]), p->timeout_ms);
	}
	return 0;
}

static const struct field reorder_fields[] = {
    FLD("enabled", K_BOOL, struct cfg_reorder, enabled, .roles = R_ANY),
    FLD("capacity", K_U32, struct cfg_reorder, capacity, .roles = R_ANY,
	.min = 16, .max = 65536),
    FLD("min_hold", K_DURATION, struct cfg_reorder, min_hold_ms, .roles = R_ANY,
	.min = 0, .max = 10000),
    FLD("max_hold", K_DURATION, struct cfg_reorder, max_hold_ms, .roles = R_ANY,
	.min = 1, .max = 10000),
};

static int sec_reorder(struct cfg_ctx *c, const yaml_node_t *n,
		       const char *path, void *obj)
{
	struct cfg_reorder *r = obj;
	const yaml_node_t *got[NF(reorder_fields)];
	int ret = parse_fields(c, n, path, reorder_fields, NF(reorder_fields),
			       r, got);
	if (ret)
		return ret;
	/* The reorder ring indexes with a mask. */
	if (r->capacity & (r->capacity - 1))
		return fail(c, got[1], "reorder.capacity",
			    "expected a power of two from 16 to 65536, got "
			    "%s",
			    got_str(c, got[1]));
	if (r->min_hold_ms > r->max_hold_ms) {
		const yaml_node_t *at = got[2] ? got[2] : got[3];
		return fail(c, at,
			    got[2] ? "reorder.min_hold" : "reorder.max_hold",
			    "min_hold (%ums) must not exceed max_hold (%ums)",
			    r->min_hold_ms, r->max_hold_ms);
	}
	return 0;
}

static const struct field control_fields[] = {
    /* Bounded by sun_path, not by the buffer. */
    {.key = "socket",
     .kind = K_STR,
     .roles = R_ANY,
     .off = offsetof(struct cfg_control, socket),
     .size = sizeof(((struct sockaddr_un *)0)->sun_path)},
    FLD("mode", K_MODE, struct cfg_control, mode, .roles = R_ANY),
    FLD("group", K_USER, struct cfg_control, group, .roles = R_ANY),
};

static int sec_control(struct cfg_ctx *c, const yaml_node_t *n,
		       const char *path, void *obj)
{
	const yaml_node_t *got[NF(control_fields)];
	return parse_fields(c, n, path, control_fields, NF(control_fields), obj,
			    got);
}

static const struct field http_fields[] = {
    FLD("enabled", K_BOOL, struct cfg_http, enabled, .roles = R_ANY),
    FLD("listen", K_ENDPOINT, struct cfg_http, listen, .roles = R_ANY),
    FLD("token", K_STR, struct cfg_http, token, .roles = R_ANY, .min = 16),
    FLD("token_file", K_STR, struct cfg_http, token_file, .roles = R_ANY,
	.min = 1),
    FLD("user", K_USER, struct cfg_http, user, .roles = R_ANY),
    FLD("password", K_STR, struct cfg_http, password, .roles = R_ANY, .min = 8),
    FLD("password_file", K_STR, struct cfg_http, password_file, .roles = R_ANY,
	.min = 1),
};

static bool sa_is_loopback(const struct cfg_sockaddr *a)
{
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)&a->ss;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)&a->ss;
		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
		       (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
			in6->sin6_addr.s6_addr[12] == 127);
	}
	return false;
}

/* http: { listen, token | token_file, user + password | password_file }.
 * Present means on (unless `enabled: false`); anything that could be
 * reached from another host must ask for credentials. */
static int sec_http(struct cfg_ctx *c, const yaml_node_t *n, const char *path,
		    void *obj)
{
	struct cfg_http *h = obj;
	const yaml_node_t *got[NF(http_fields)];
	h->enabled = true;
	int ret =
	    parse_fields(c, n, path, http_fields, NF(http_fields), h, got);
	if (ret)
		return ret;
	if (sa_port(&h->listen) == 0)
		sa_set_port(&h->listen, CFG_HTTP_DEFAULT_PORT);
	if (got[2] && got[3])
		return fail(c, got[3], "http.token_file",
			    "give either token or token_file, not both");
	if (got[5] && got[6])
		return fail(c, got[6], "http.password_file",
			    "give either password or password_file, not both");
	bool pw = got[5] || got[6];
	if (got[4] && !pw)
		return missing(c, n, path, "password",
			       "a password (or password_file) for http.user");
	if (pw && !got[4])
		return missing(c, n, path, "user",
			       "the basic-auth user name the password is for");
	if (h->enabled && !sa_is_loopback(&h->listen) && !got[2] && !got[3] &&
	    !got[4])
		return fail(c, got[1], "http.listen",
			    "%s is not a loopback address: set http.token (or "
			    "token_file) or http.user and password, so other "
			    "hosts must authenticate",
			    got_str(c, got[1]));
	return 0;
}

static const struct field log_fields[] = {
    {.key = "level",
     .kind = K_ENUM,
     .roles = R_ANY,
     .off = 0,
     .size = sizeof(int),
     .names = level_names},
};

static int sec_log(struct cfg_ctx *c, const yaml_node_t *n, const char *path,
		   void *obj)
{
	const yaml_node_t *got[NF(log_fields)];
	return parse_fields(c, n, path, log_fields, NF(log_fields), obj, got);
}

enum {
	RF_ROLE,
	RF_SERVER,
	RF_LISTEN,
	RF_KEY,
	RF_CRYPTO,
	RF_CIPHER,
	RF_TUN,
	RF_DEFAULT_ROUTE,
	RF_SCHEDULER,
	RF_LINKS,
	RF_CLIENTS,
	RF_PROBE,
	RF_REORDER,
	RF_CONTROL,
	RF_HTTP,
	RF_PLUGIN_DIR,
	RF_STATE_FILE,
	RF_USER,
	RF_KEEPALIVE,
	RF_LOG,
	RF_COUNT
};

static const struct field root_fields[RF_COUNT] = {
    [RF_ROLE] = FLD("role", K_ENUM, struct config, role, .roles = R_ANY,
		    .names = role_names),
    [RF_SERVER] = FLD("server", K_SECTION, struct config, server,
		      .roles = R_CLIENT, .section = sec_server),
    [RF_LISTEN] = FLD("listen", K_SECTION, struct config, listen,
		      .roles = R_SERVER, .section = sec_listen),
    [RF_KEY] =
	FLD("key", K_STR, struct config, key_file, .roles = R_CLIENT, .min = 1),
    [RF_CRYPTO] = FLD("crypto", K_ENUM, struct config, crypto_mode,
		      .roles = R_ANY, .names = crypto_names),
    [RF_CIPHER] = FLD("cipher", K_ENUM, struct config, cipher, .roles = R_ANY,
		      .names = cipher_names),
    [RF_TUN] = FLD("tun", K_SECTION, struct config, tun, .roles = R_ANY,
		   .section = sec_tun),
    [RF_DEFAULT_ROUTE] = FLD("default_route", K_BOOL, struct config,
			     default_route, .roles = R_CLIENT),
    [RF_SCHEDULER] = {.key = "scheduler",
		      .kind = K_SECTION,
		      .roles = R_ANY,
		      .section = sec_scheduler},
    [RF_LINKS] = {.key = "links",
		  .kind = K_SECTION,
		  .roles = R_ANY,
		  .section = sec_links},
    [RF_CLIENTS] = {.key = "clients",
		    .kind = K_SECTION,
		    .roles = R_SERVER,
		    .section = sec_clients},
    [RF_PROBE] = FLD("probe", K_SECTION, struct config, probe, .roles = R_ANY,
		     .section = sec_probe),
    [RF_REORDER] = FLD("reorder", K_SECTION, struct config, reorder,
		       .roles = R_ANY, .section = sec_reorder),
    [RF_CONTROL] = FLD("control", K_SECTION, struct config, control,
		       .roles = R_ANY, .section = sec_control),
    [RF_HTTP] = FLD("http", K_SECTION, struct config, http, .roles = R_ANY,
		    .section = sec_http),
    [RF_PLUGIN_DIR] =
	FLD("plugin_dir", K_STR, struct config, plugin_dir, .roles = R_ANY),
    [RF_STATE_FILE] =
	FLD("state_file", K_STR, struct config, state_file, .roles = R_ANY),
    [RF_USER] = FLD("user", K_USER, struct config, user, .roles = R_ANY),
    [RF_KEEPALIVE] = FLD("keepalive", K_DURATION, struct config, keepalive_ms,
			 .roles = R_ANY, .min = 0, .max = 3600000),
    [RF_LOG] = FLD("log", K_SECTION, struct config, log_level, .roles = R_ANY,
		   .section = sec_log),
};

/* ------------------------------------------------------------------ */
/* Whole-file checks                                                   */
/* ------------------------------------------------------------------ */

/* Role decides which keys are legal, and it may come last: find it first. */
static int find_role(struct cfg_ctx *c)
{
	const yaml_node_t *root = c->root;
	for (const yaml_node_pair_t *p = root->data.mapping.pairs.start;
	     p < root->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		const yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		if (!k || !v || k->type != YAML_SCALAR_NODE ||
		    strcmp(sval(k), "role") != 0)
			continue;
		return parse_field(c, &root_fields[RF_ROLE], v, "role", c->cfg);
	}
	return fail(c, root, "role",
		    "missing; expected `role: client` or `role: server`");
}

static int check_client(struct cfg_ctx *c, const yaml_node_t **got)
{
	struct config *cfg = c->cfg;
	const yaml_node_t *root = c->root;

	if (!got[RF_SERVER])
		return missing(c, root, "", "server",
			       "server: { address: ..., port: ... }");
	if (!got[RF_KEY])
		return missing(c, root, "", "key",
			       "the path of this client's key file");
	if (cfg->n_links == 0)
		return fail(c, got[RF_LINKS] ? got[RF_LINKS] : root, "links",
			    "a client needs at least one link, like - { name: "
			    "dsl, interface: eth0 }");
	if (cfg->tun.addr4.family == 0)
		return missing(c, c->tun_node ? c->tun_node : root, "tun",
			       "address",
			       "the client's inner IPv4 prefix like "
			       "10.77.0.2/24");
	for (uint32_t i = 0; i < cfg->n_links; i++) {
		struct cfg_link *l = &cfg->links[i];
		char sub[CFG_KEYPATH_MAX];
		if (l->peer.ss.ss_family == AF_UNSPEC)
			l->peer = cfg->server;
		else if (sa_port(&l->peer) == 0)
			sa_set_port(&l->peer, sa_port(&cfg->server));
		snprintf(sub, sizeof(sub), "links[%u].source", i);
		if (l->source.ss.ss_family != AF_UNSPEC &&
		    l->source.ss.ss_family != l->peer.ss.ss_family)
			return fail(c, c->link_src[i], sub,
				    "%s cannot reach the %s peer address",
				    l->source.ss.ss_family == AF_INET
					? "an IPv4 source"
					: "an IPv6 source",
				    l->peer.ss.ss_family == AF_INET ? "IPv4"
								    : "IPv6");
	}
	return 0;
}

static int check_server(struct cfg_ctx *c, const yaml_node_t **got)
{
	struct config *cfg = c->cfg;
	if (cfg->n_clients == 0)
		return fail(c, got[RF_CLIENTS] ? got[RF_CLIENTS] : c->root,
			    "clients",
			    "a server needs at least one client, like - { "
			    "name: laptop, key: /etc/tuntuntun/laptop.key, "
			    "address: 10.77.0.2 }");
	/* The server's own tun address cannot be routed to a client. */
	for (uint32_t i = 0; i < cfg->n_clients; i++) {
		const struct cfg_client *cl = &cfg->clients[i];
		char sub[CFG_KEYPATH_MAX];
		int v6 = prefix_same_addr(&cfg->tun.addr6, &cl->addr6);
		if (!v6 && !prefix_same_addr(&cfg->tun.addr4, &cl->addr4))
			continue;
		snprintf(sub, sizeof(sub), "clients[%u].%s", i,
			 v6 ? "address6" : "address");
		return fail(c, c->client_addr[i][v6], sub,
			    "%s is the server's own tun address",
			    got_str(c, c->client_addr[i][v6]));
	}
	return 0;
}

static int load_root(struct cfg_ctx *c)
{
	const yaml_node_t *got[RF_COUNT];
	int ret;

	if (c->root->type != YAML_MAPPING_NODE)
		return fail(c, c->root, "",
			    "expected a mapping of keys at the top level, got "
			    "%s",
			    got_str(c, c->root));
	ret = find_role(c);
	if (ret)
		return ret;
	ret = parse_fields(c, c->root, "", root_fields, RF_COUNT, c->cfg, got);
	if (ret)
		return ret;
	if (c->cfg->role == ROLE_CLIENT)
		return check_client(c, got);
	return check_server(c, got);
}

/* libyaml's own problem and position; reader errors (bad UTF-8, control
 * characters) carry only a byte offset, so the line is counted here. */
static int syntax_error(struct cfg_ctx *c, const yaml_parser_t *p,
			const char *text, size_t len)
{
	unsigned long line = p->problem_mark.line + 1;
	unsigned long col = p->problem_mark.column + 1;
	const char *problem = p->problem ? p->problem : "unknown problem";

	if (p->error == YAML_READER_ERROR) {
		line = 1;
		col = 1;
		for (size_t i = 0; i < p->problem_offset && i < len; i++) {
			if (text[i] == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
	}
	if (p->error == YAML_MEMORY_ERROR)
		return err_set(c->e, -ENOMEM, "%s: out of memory parsing YAML",
			       c->name);
	if (p->context)
		return err_set(c->e, -EINVAL,
			       "%s:%lu:%lu: YAML syntax error: %s (%s at "
			       "line %lu)",
			       c->name, line, col, problem, p->context,
			       (unsigned long)p->context_mark.line + 1);
	return err_set(c->e, -EINVAL, "%s:%lu:%lu: YAML syntax error: %s",
		       c->name, line, col, problem);
}

/*
 * A streaming pass before the document is built: refuses nesting deeper than
 * CFG_DEPTH_MAX (the document loader would first spend time quadratic in the
 * depth) and aliases (pointing at the *alias itself, which the document API
 * cannot). Syntax errors surface here with libyaml's own position.
 */
static int prescan(struct cfg_ctx *c, const char *text, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, ret = 0;

	if (!yaml_parser_initialize(&p))
		return err_set(c->e, -ENOMEM,
			       "%s: cannot set up the YAML parser", c->name);
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	for (;;) {
		yaml_event_type_t type;
		if (!yaml_parser_parse(&p, &ev)) {
			ret = syntax_error(c, &p, text, len);
			break;
		}
		type = ev.type;
		if ((type == YAML_MAPPING_START_EVENT ||
		     type == YAML_SEQUENCE_START_EVENT) &&
		    ++depth > CFG_DEPTH_MAX)
			ret = err_set(c->e, -EINVAL,
				      "%s:%lu:%lu: nested deeper than %d "
				      "levels",
				      c->name,
				      (unsigned long)ev.start_mark.line + 1,
				      (unsigned long)ev.start_mark.column + 1,
				      CFG_DEPTH_MAX);
		else if (type == YAML_MAPPING_END_EVENT ||
			 type == YAML_SEQUENCE_END_EVENT)
			depth--;
		else if (type == YAML_ALIAS_EVENT)
			ret = err_set(
			    c->e, -EINVAL,
			    "%s:%lu:%lu: YAML aliases (*name) are not "
			    "supported; write the value out",
			    c->name, (unsigned long)ev.start_mark.line + 1,
			    (unsigned long)ev.start_mark.column + 1);
		yaml_event_delete(&ev);
		if (ret || type == YAML_STREAM_END_EVENT)
			break;
	}
	yaml_parser_delete(&p);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

void config_defaults(struct config *cfg)
{
	struct in_addr any = {.s_addr = htonl(INADDR_ANY)};

	memset(cfg, 0, sizeof(*cfg));
	cfg->role = ROLE_CLIENT;
	sa_set(&cfg->listen, AF_INET, &any, CFG_DEFAULT_PORT);
	cfg->crypto_mode = CRYPTO_ENCRYPT;
	strcpy(cfg->tun.name, "ttt0");
	for (int d = 0; d < 2; d++)
		strcpy(cfg->sched[d].plugin, "roundrobin");
	cfg->probe.interval_ms = 100;
	cfg->probe.timeout_ms = 1000;
	cfg->probe.degraded_loss_ppm = 50000;
	cfg->probe.loss_window = 50;
	cfg->reorder.enabled = true;
	cfg->reorder.capacity = 4096;
	cfg->reorder.min_hold_ms = 5;
	cfg->reorder.max_hold_ms = 300;
	strcpy(cfg->control.socket, "/run/tuntuntun.sock");
	cfg->control.mode = 0600;
	struct in_addr lo = {.s_addr = htonl(INADDR_LOOPBACK)};
	sa_set(&cfg->http.listen, AF_INET, &lo, CFG_HTTP_DEFAULT_PORT);
	cfg->log_level = LOG_INFO;
	cfg->keepalive_ms = 10000;
}

int config_load_string(struct config *cfg, const char *name, const char *text,
		       size_t len, struct err *e)
{
	struct cfg_ctx c = {
	    .name = name ? name : "<config>", .e = e, .cfg = cfg};
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	int ret;

	if (!cfg || (!text && len))
		return err_set(e, -EINVAL, "%s: no configuration text", c.name);
	config_defaults(cfg);
	if (strlen(c.name) >= sizeof(cfg->path))
		return err_set(e, -ENAMETOOLONG,
			       "%s: path longer than %zu bytes", c.name,
			       sizeof(cfg->path) - 1);
	strcpy(cfg->path, c.name);
	if (!text)
		text = "";
	ret = prescan(&c, text, len);
	if (ret)
		return ret;
	if (!yaml_parser_initialize(&parser))
		return err_set(e, -ENOMEM, "%s: cannot set up the YAML parser",
			       c.name);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		ret = syntax_error(&c, &parser, text, len);
		goto out_parser;
	}
	c.doc = &doc;
	c.root = yaml_document_get_root_node(&doc);
	if (!c.root) {
		ret = err_set(e, -EINVAL,
			      "%s:1:1: empty configuration; expected at least "
			      "`role: client` or `role: server`",
			      c.name);
		goto out_doc;
	}
	/* One file, one document: a second one would be silently ignored. */
	if (!yaml_parser_load(&parser, &extra)) {
		ret = syntax_error(&c, &parser, text, len);
		goto out_doc;
	}
	if (yaml_document_get_root_node(&extra)) {
		ret = err_set(e, -EINVAL,
			      "%s:%lu:%lu: a second YAML document starts here; "
			      "expected the whole configuration in one",
			      c.name, (unsigned long)extra.start_mark.line + 1,
			      (unsigned long)extra.start_mark.column + 1);
		yaml_document_delete(&extra);
		goto out_doc;
	}
	yaml_document_delete(&extra);
	c.n_nodes = (size_t)(doc.nodes.top - doc.nodes.start);
	c.seen = calloc(c.n_nodes ? c.n_nodes : 1, 1);
	if (!c.seen) {
		ret = err_set(e, -ENOMEM, "%s: out of memory", c.name);
		goto out_doc;
	}
	/* The root counts as used by the walk that starts from it. */
	c.seen[0] = 1;
	ret = load_root(&c);
	if (ret == 0) {
		if (cfg->crypto_mode == CRYPTO_NONE)
			log_warn("config",
				 "%s: crypto: none: tunnel traffic is neither "
				 "encrypted nor authenticated",
				 c.name);
		log_debug("config", "%s: %s with %u links, %u clients", c.name,
			  role_name(cfg->role), cfg->n_links, cfg->n_clients);
	}
	free(c.seen);
out_doc:
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&parser);
	return ret;
}

/* Reads the whole file (bounded) and parses it with its path as the name. */
int config_load(struct config *cfg, const char *path, struct err *e)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd, ret;

	if (!path)
		return err_set(e, -EINVAL, "no configuration file given");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	for (;;) {
		ssize_t n;
		if (len == cap) {
			char *nb;
			if (cap >= CFG_FILE_MAX) {
				ret = err_set(e, -EFBIG,
					      "%s: larger than %d bytes; not a "
					      "configuration file?",
					      path, CFG_FILE_MAX);
				goto out;
			}
			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				ret = err_set(e, -ENOMEM, "%s: out of memory",
					      path);
				goto out;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret =
			    err_set(e, -errno, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	ret = config_load_string(cfg, path, buf ? buf : "", len, e);
out:
	if (close(fd) < 0)
		log_warn("config", "%s: close: %s", path, strerror(errno));
	free(buf);
	return ret;
}
