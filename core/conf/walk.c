/*
 * The node walker: libyaml's document API keeps a line:column mark on every
 * node, so each error reads FILE:LINE:COL: KEY: what was wrong, quoting the
 * bad value and saying what was expected. A section is a static table of
 * fields (key, kind, offset, limits, roles): cfg_parse_fields() walks a
 * mapping against it, so adding a key is one table line and "unknown key"
 * can list the valid ones. cfg_parse_list() is the shape every list shares.
 */
#include "conf/internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Loader context and messages                                         */
/* ------------------------------------------------------------------ */

const char *cfg_sval(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* Quotes a user value for a message: at most 48 characters, control and
 * non-ASCII bytes escaped, so a hostile file cannot forge log lines. */
const char *cfg_quote(struct cfg_ctx *c, const char *s)
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
const char *cfg_got_str(struct cfg_ctx *c, const yaml_node_t *n)
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
		return cfg_quote(c, cfg_sval(n));
	default:
		return "nothing";
	}
}

/* Formats FILE:LINE:COL: KEY: message into c->e; returns -EINVAL. */
int cfg_fail(struct cfg_ctx *c, const yaml_node_t *n, const char *path,
	     const char *fmt, ...)
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
void cfg_join(char *out, const char *path, const char *key)
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
int cfg_take(struct cfg_ctx *c, int id, const char *path,
	     const yaml_node_t **out)
{
	const yaml_node_t *n = yaml_document_get_node(c->doc, id);
	if (!n)
		return cfg_fail(c, NULL, path, "YAML node %d missing", id);
	if (c->seen[id - 1])
		return cfg_fail(c, n, path,
				"YAML aliases (*name) are not supported; write "
				"the value out");
	c->seen[id - 1] = 1;
	if (n->type == YAML_SCALAR_NODE &&
	    strlen(cfg_sval(n)) != n->data.scalar.length)
		return cfg_fail(c, n, path, "value contains a NUL character");
	*out = n;
	return 0;
}

/*
 * Takes the key of pair p of mapping map: it must be a scalar and must not
 * repeat an earlier key (libyaml keeps both, the YAML spec forbids it).
 * On success *key is the node and sub the key path.
 */
int cfg_take_key(struct cfg_ctx *c, const yaml_node_t *map,
		 const yaml_node_pair_t *p, const char *path,
		 const yaml_node_t **key, char *sub)
{
	int ret = cfg_take(c, p->key, path, key);
	if (ret)
		return ret;
	if ((*key)->type != YAML_SCALAR_NODE)
		return cfg_fail(c, *key, path,
				"keys must be plain words, got %s",
				cfg_got_str(c, *key));
	cfg_join(sub, path, cfg_sval(*key));
	for (const yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p;
	     q++) {
		const yaml_node_t *k = yaml_document_get_node(c->doc, q->key);
		if (k && k->type == YAML_SCALAR_NODE &&
		    strcmp(cfg_sval(k), cfg_sval(*key)) == 0)
			return cfg_fail(
			    c, *key, sub,
			    "duplicate key (first given at line %lu)",
			    (unsigned long)k->start_mark.line + 1);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Field tables                                                        */
/* ------------------------------------------------------------------ */

const char *cfg_role_name(int role)
{
	return role == ROLE_SERVER ? "server" : "client";
}

static unsigned role_bit(int role)
{
	return role == ROLE_SERVER ? R_SERVER : R_CLIENT;
}

void cfg_fmt_ms(char *buf, size_t len, uint64_t ms)
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
		cfg_fmt_ms(lo, sizeof(lo), f->min);
		cfg_fmt_ms(hi, sizeof(hi), f->max);
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
bool cfg_name_ok(const char *s, size_t size, const char *extra, bool lower)
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
	       cfg_word_is(cfg_sval(n), nulls);
}

/* Converts scalar s for field f into dst. Returns 0 or a negative errno;
 * the caller turns failure into one "expected ..., got ..." message. */
static int convert(const struct field *f, const yaml_node_t *n, void *dst)
{
	const char *s = cfg_sval(n);
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
		if (!cfg_name_ok(s, f->size, "-_", false))
			return -EINVAL;
		strcpy(dst, s);
		return 0;
	case K_USER:
		if (!cfg_name_ok(s, f->size, "-_.", false))
			return -EINVAL;
		strcpy(dst, s);
		return 0;
	case K_PLUGIN:
		if (!cfg_name_ok(s, f->size, "-_", true))
			return -EINVAL;
		strcpy(dst, s);
		return 0;
	case K_IFNAME:
		if (!ifname_ok(s, f->size))
			return -EINVAL;
		strcpy(dst, s);
		return 0;
	case K_BOOL:
		if (cfg_word_is(s, cfg_true_words))
			*(bool *)dst = true;
		else if (cfg_word_is(s, cfg_false_words))
			*(bool *)dst = false;
		else
			return -EINVAL;
		return 0;
	case K_U32:
		if (cfg_parse_u64(s, &u) || u < f->min || u > f->max)
			return -EINVAL;
		*(uint32_t *)dst = (uint32_t)u;
		return 0;
	case K_PORT:
		if (cfg_parse_u64(s, &u) || u < 1 || u > 65535)
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
		if (cfg_parse_u64(s, &u) || u < f->min || u > f->max)
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
		return cfg_parse_ip(s, 0, dst);
	case K_ENDPOINT:
		return cfg_parse_endpoint(s, dst);
	case K_PREFIX4:
		return cfg_parse_prefix(s, AF_INET, f->flags & PLEN_REQUIRED,
					dst);
	case K_PREFIX6:
		return cfg_parse_prefix(s, AF_INET6, f->flags & PLEN_REQUIRED,
					dst);
	case K_SECTION:
		break;
	}
	return -EINVAL;
}

int cfg_parse_field(struct cfg_ctx *c, const struct field *f,
		    const yaml_node_t *v, const char *path, void *obj)
{
	char expected[200];
	void *dst = (char *)obj + f->off;

	if (f->kind == K_SECTION)
		return f->section(c, v, path, dst);
	if (v->type == YAML_SCALAR_NODE && convert(f, v, dst) == 0)
		return 0;
	describe(f, expected, sizeof(expected));
	return cfg_fail(c, v, path, "expected %s, got %s", expected,
			cfg_got_str(c, v));
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
 * and allowed for the role. Unless got is NULL, got[i] receives the value
 * node of f[i] (NULL if absent) so callers can check required keys and point
 * at values later. Tables whose values are looked at afterwards are indexed
 * by an enum of slot names (LINK_NAME, ...), so got[LINK_NAME] says which.
 */
int cfg_parse_fields(struct cfg_ctx *c, const yaml_node_t *map,
		     const char *path, const struct field *f, size_t nf,
		     void *obj, const yaml_node_t **got)
{
	for (size_t i = 0; got && i < nf; i++)
		got[i] = NULL;
	if (map->type != YAML_MAPPING_NODE)
		return cfg_fail(c, map, path,
				"expected a mapping of keys, got %s",
				cfg_got_str(c, map));
	for (const yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		const yaml_node_t *k, *v;
		const struct field *fd = NULL;
		char sub[CFG_KEYPATH_MAX];
		int ret = cfg_take_key(c, map, p, path, &k, sub);
		if (ret)
			return ret;
		for (size_t i = 0; i < nf && !fd; i++)
			if (strcmp(f[i].key, cfg_sval(k)) == 0)
				fd = &f[i];
		if (!fd || !(fd->roles & R_ANY))
			return cfg_fail(c, k, sub,
					"unknown key; expected one of %s",
					list_keys(c, f, nf));
		if (!(fd->roles & role_bit(c->cfg->role)))
			return cfg_fail(
			    c, k, sub,
			    "only valid with role: %s (this file has "
			    "role: %s)",
			    cfg_role_name(c->cfg->role == ROLE_CLIENT
					      ? ROLE_SERVER
					      : ROLE_CLIENT),
			    cfg_role_name(c->cfg->role));
		ret = cfg_take(c, p->value, sub, &v);
		if (ret)
			return ret;
		ret = cfg_parse_field(c, fd, v, sub, obj);
		if (ret)
			return ret;
		if (got)
			got[fd - f] = v;
	}
	return 0;
}

int cfg_missing(struct cfg_ctx *c, const yaml_node_t *where, const char *path,
		const char *key, const char *expected)
{
	char sub[CFG_KEYPATH_MAX];
	cfg_join(sub, path, key);
	return cfg_fail(c, where, sub, "missing; expected %s", expected);
}

int cfg_parse_list(struct cfg_ctx *c, const yaml_node_t *n, const char *path,
		   const struct list_spec *ls, void *items, uint32_t *count)
{
	const struct field *name_f = &ls->fields[ls->name_slot];
	uint32_t i = 0;

	if (n->type != YAML_SEQUENCE_NODE)
		return cfg_fail(c, n, path, "expected a list of %ss, got %s",
				ls->noun, cfg_got_str(c, n));
	*count = 0;
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++, i++) {
		const yaml_node_t *item, *got[LIST_FIELDS_MAX];
		char sub[CFG_KEYPATH_MAX];
		char *obj = (char *)items + (size_t)i * ls->item_size;
		const char *name = obj + name_f->off;
		int ret;

		snprintf(sub, sizeof(sub), "%s[%u]", path, i);
		ret = cfg_take(c, *it, sub, &item);
		if (ret)
			return ret;
		if (i >= ls->max)
			return cfg_fail(c, item, sub,
					"too many %ss (at most %u)", ls->noun,
					ls->max);
		memset(obj, 0, ls->item_size);
		if (ls->begin) {
			ret = ls->begin(c, item, sub, obj);
			if (ret)
				return ret;
		}
		ret = cfg_parse_fields(c, item, sub, ls->fields, ls->n_fields,
				       obj, got);
		if (ret)
			return ret;
		if (!got[ls->name_slot])
			return cfg_missing(c, item, sub, name_f->key,
					   ls->name_hint);
		if (ls->check) {
			ret = ls->check(c, i, item, sub, got);
			if (ret)
				return ret;
		}
		for (uint32_t j = 0; j < i; j++) {
			const char *other = (const char *)items +
					    (size_t)j * ls->item_size +
					    name_f->off;
			if (strcmp(other, name) == 0)
				return cfg_fail(c, got[ls->name_slot], sub,
						"duplicate %s name %s (also "
						"%s[%u])",
						ls->noun, cfg_quote(c, name),
						path, j);
			if (ls->clash) {
				ret = ls->clash(c, i, j, sub, got);
				if (ret)
					return ret;
			}
		}
		*count = i + 1;
	}
	return 0;
}
