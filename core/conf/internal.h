/*
 * The configuration loader's internals, shared by its files and by nothing
 * outside core/conf/ (everyone else includes conf/config.h):
 *   config.c    the entry points: read the file, libyaml, defaults;
 *   scalar.c    one scalar string -> one typed value (units, addresses);
 *   walk.c      the node walker: messages with FILE:LINE:COL, field tables,
 *               the list skeleton;
 *   sections.c  one table and parser per section, the whole-file checks.
 */
#ifndef TTT_CONF_INTERNAL_H
#define TTT_CONF_INTERNAL_H

#include "conf/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#define CFG_DEFAULT_PORT 5800
/* Key paths such as "scheduler.upstream.weights.dsl" in messages. */
#define CFG_KEYPATH_MAX 160

/* ------------------------------------------------------------------ */
/* scalar.c                                                            */
/* ------------------------------------------------------------------ */

/* Unsigned decimal integer, digits only (no sign, no hex, no spaces). */
int cfg_parse_u64(const char *s, uint64_t *out);
/* Whether s is one of words (NULL-terminated), ignoring case. */
bool cfg_word_is(const char *s, const char *const *words);
extern const char *const cfg_true_words[];  /* true, yes, on */
extern const char *const cfg_false_words[]; /* false, no, off */

void cfg_sa_set(struct cfg_sockaddr *a, int family, const void *addr,
		uint16_t port);
uint16_t cfg_sa_port(const struct cfg_sockaddr *a);
void cfg_sa_set_port(struct cfg_sockaddr *a, uint16_t port);
/* A literal IPv4 or IPv6 address with the given port; -EINVAL if not. */
int cfg_parse_ip(const char *s, uint16_t port, struct cfg_sockaddr *a);
/* address[:port] or [v6]:port; the port is 0 when not given. */
int cfg_parse_endpoint(const char *s, struct cfg_sockaddr *a);
/* An address of `family` with /plen (optional unless need_len). */
int cfg_parse_prefix(const char *s, int family, bool need_len,
		     struct cfg_prefix *pfx);
/* Both set, same family and same address (the length is ignored). */
bool cfg_prefix_same_addr(const struct cfg_prefix *a,
			  const struct cfg_prefix *b);

/* ------------------------------------------------------------------ */
/* walk.c                                                              */
/* ------------------------------------------------------------------ */

/* One load: the document, what has been used, and nodes that later checks
 * point their messages at. */
struct cfg_ctx {
	const char *name; /* file name for messages */
	struct err *e;
	yaml_document_t *doc;
	unsigned char *seen; /* per node: already used (catches aliases) */
	size_t n_nodes;
	struct config *cfg;
	const yaml_node_t *root;
	const yaml_node_t *tun_node;
	const yaml_node_t *link_src[CFG_MAX_LINKS];
	const yaml_node_t *client_addr[CFG_MAX_CLIENTS][2]; /* v4, v6 */
	unsigned opt_nodes;
	char qbuf[256];
	char keys[300];
};

/* The kinds of value a field may hold; convert() in walk.c turns a scalar
 * into each, describe() says what each expects. */
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

#define NF(t) (sizeof(t) / sizeof((t)[0]))

/*
 * The skeleton of a list section (`links`, `clients`): a sequence of
 * mappings, each parsed against one table into the next slot of an array,
 * at most `max` of them, each with a required and unique name. What differs
 * per list is in the hooks, called in this order for item i:
 *   begin:  before its keys (defaults, or refusing the item);
 *   check:  once `name` is there (other required keys; remembers nodes);
 *   clash:  against each earlier item j, after their names differ.
 */
#define LIST_FIELDS_MAX 16

struct list_spec {
	const char *noun; /* "link": "a list of links", "duplicate link name" */
	const struct field *fields;
	size_t n_fields;  /* at most LIST_FIELDS_MAX */
	size_t name_slot; /* index in fields of the required, unique name */
	const char *name_hint; /* what a name looks like, for "missing" */
	size_t item_size;
	uint32_t max;
	int (*begin)(struct cfg_ctx *c, const yaml_node_t *item,
		     const char *sub, void *obj);
	int (*check)(struct cfg_ctx *c, uint32_t i, const yaml_node_t *item,
		     const char *sub, const yaml_node_t **got);
	int (*clash)(struct cfg_ctx *c, uint32_t i, uint32_t j, const char *sub,
		     const yaml_node_t **got);
};

const char *cfg_sval(const yaml_node_t *n);
/* A user value quoted and escaped for a message (in c->qbuf). */
const char *cfg_quote(struct cfg_ctx *c, const char *s);
/* What a node is, for "expected X, got Y". */
const char *cfg_got_str(struct cfg_ctx *c, const yaml_node_t *n);
/* Formats FILE:LINE:COL: KEY: message into c->e; returns -EINVAL. */
int __attribute__((format(printf, 4, 5)))
cfg_fail(struct cfg_ctx *c, const yaml_node_t *n, const char *path,
	 const char *fmt, ...);
/* "KEY: missing; expected ..." at `where`, KEY being path.key. */
int cfg_missing(struct cfg_ctx *c, const yaml_node_t *where, const char *path,
		const char *key, const char *expected);
/* path + "." + key into out (CFG_KEYPATH_MAX), for messages. */
void cfg_join(char *out, const char *path, const char *key);
/* Fetches node id for use; each node may be used once (no aliases). */
int cfg_take(struct cfg_ctx *c, int id, const char *path,
	     const yaml_node_t **out);
/* Takes the key of pair p of map: a scalar, not repeating an earlier key. */
int cfg_take_key(struct cfg_ctx *c, const yaml_node_t *map,
		 const yaml_node_pair_t *p, const char *path,
		 const yaml_node_t **key, char *sub);
const char *cfg_role_name(int role);
/* 1500 -> "1500ms", 2000 -> "2s". */
void cfg_fmt_ms(char *buf, size_t len, uint64_t ms);
/* 1 to size-1 bytes of [A-Za-z0-9] plus extra, starting alphanumeric;
 * lower refuses upper case. */
bool cfg_name_ok(const char *s, size_t size, const char *extra, bool lower);
/* Converts v for field f into obj + f->off, or fails with the message. */
int cfg_parse_field(struct cfg_ctx *c, const struct field *f,
		    const yaml_node_t *v, const char *path, void *obj);
int cfg_parse_fields(struct cfg_ctx *c, const yaml_node_t *map,
		     const char *path, const struct field *f, size_t nf,
		     void *obj, const yaml_node_t **got);
/* Parses list section n into items[0..*count) as ls describes. */
int cfg_parse_list(struct cfg_ctx *c, const yaml_node_t *n, const char *path,
		   const struct list_spec *ls, void *items, uint32_t *count);

/* ------------------------------------------------------------------ */
/* sections.c                                                          */
/* ------------------------------------------------------------------ */

/* The whole document from c->root into c->cfg, with the role's checks. */
int cfg_load_root(struct cfg_ctx *c);

#endif
