/*
 * The sections of a config file, one table and one parser each (server,
 * listen, tun, scheduler, links, clients, probe, reorder, control, http,
 * log),
 * the root table, and the checks that need the whole file (a client's
 * server and links, a server's clients). Adding a key is one table line.
 */
#include "conf/internal.h"
#include "base/log.h"
#include "queue/fq.h"
#include "os/hookcmd.h"
#include "wire/wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

/* Nodes a plugin option tree may hold: bounds work on hostile input. */
#define CFG_OPT_NODES_MAX 256

struct endpoint {
	struct cfg_sockaddr addr;
	uint32_t port;
};

enum { EP_ADDRESS, EP_PORT, EP_COUNT };

static const struct field endpoint_fields[EP_COUNT] = {
    [EP_ADDRESS] = FLD("address", K_IP, struct endpoint, addr, .roles = R_ANY),
    [EP_PORT] = FLD("port", K_PORT, struct endpoint, port, .roles = R_ANY),
};

struct server_ep {
	char address[CFG_STR_MAX];
	uint32_t port;
};

static const struct field server_fields[EP_COUNT] = {
    [EP_ADDRESS] =
	FLD("address", K_STR, struct server_ep, address, .roles = R_ANY),
    [EP_PORT] = FLD("port", K_PORT, struct server_ep, port, .roles = R_ANY),
};

/* A DNS name as RFC 1123 allows: labels of letters, digits and '-', not
 * starting or ending with '-', 1..63 each, dots between, 253 at most. */
static bool is_host_name(const char *s)
{
	size_t len = strlen(s), label = 0;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		char ch = s[i];
		if (ch == '.' || ch == 0) {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		bool ok = (ch >= 'a' && ch <= 'z') ||
			  (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '-';
		if (!ok || (label == 0 && ch == '-') || ++label > 63)
			return false;
	}
	/* An all-digit last label is a mistyped IP address, not a name. */
	const char *last = strrchr(s, '.');
	last = last ? last + 1 : s;
	return last[strspn(last, "0123456789")] != 0;
}

/* server: { address, port }: the address is required (an IP address or a
 * host name), port 5800. */
static int sec_server(struct cfg_ctx *c, const yaml_node_t *n, const char *path,
		      void *obj)
{
	struct server_ep ep = {.port = CFG_DEFAULT_PORT};
	struct cfg_sockaddr *sa = obj;
	const yaml_node_t *got[EP_COUNT];
	int ret =
	    cfg_parse_fields(c, n, path, server_fields, EP_COUNT, &ep, got);
	if (ret)
		return ret;
	if (!got[EP_ADDRESS])
		return cfg_missing(c, n, path, "address",
				   "the server's IPv4 or IPv6 address or "
				   "host name");
	c->cfg->server_port = (uint16_t)ep.port;
	c->cfg->server_host[0] = 0;
	if (cfg_parse_ip(ep.address, (uint16_t)ep.port, sa) == 0)
		return 0;
	if (!is_host_name(ep.address))
		return cfg_fail(c, got[EP_ADDRESS], "server.address",
				"expected an IPv4 or IPv6 address or a host "
				"name, got %s",
				cfg_got_str(c, got[EP_ADDRESS]));
	memset(sa, 0, sizeof(*sa));
	snprintf(c->cfg->server_host, sizeof(c->cfg->server_host), "%s",
		 ep.address);
	return 0;
}

/* listen: { address, port }: both optional, default 0.0.0.0:5800. */
static int sec_listen(struct cfg_ctx *c, const yaml_node_t *n, const char *path,
		      void *obj)
{
	struct endpoint ep = {.port = CFG_DEFAULT_PORT};
	struct in_addr any = {.s_addr = htonl(INADDR_ANY)};
	int ret;

	cfg_sa_set(&ep.addr, AF_INET, &any, 0);
	ret =
	    cfg_parse_fields(c, n, path, endpoint_fields, EP_COUNT, &ep, NULL);
	if (ret)
		return ret;
	cfg_sa_set_port(&ep.addr, (uint16_t)ep.port);
	*(struct cfg_sockaddr *)obj = ep.addr;
	return 0;
}

enum { TUN_NAME, TUN_ADDRESS, TUN_ADDRESS6, TUN_MTU, TUN_OFFLOAD, TUN_COUNT };

static const struct enum_name offload_names[] = {
    {"auto", CFG_OFFLOAD_AUTO}, {"off", CFG_OFFLOAD_OFF}, {NULL, 0}};

static const struct field tun_fields[TUN_COUNT] = {
    [TUN_NAME] = FLD("name", K_IFNAME, struct cfg_tun, name, .roles = R_ANY),
    [TUN_ADDRESS] = FLD("address", K_PREFIX4, struct cfg_tun, addr4,
			.roles = R_ANY, .flags = PLEN_REQUIRED),
    [TUN_ADDRESS6] = FLD("address6", K_PREFIX6, struct cfg_tun, addr6,
			 .roles = R_ANY, .flags = PLEN_REQUIRED),
    [TUN_MTU] = FLD("mtu", K_MTU, struct cfg_tun, mtu, .roles = R_ANY,
		    .min = 576, .max = 65535),
    [TUN_OFFLOAD] = FLD("offload", K_ENUM, struct cfg_tun, offload,
			.roles = R_ANY, .names = offload_names),
};

static int sec_tun(struct cfg_ctx *c, const yaml_node_t *n, const char *path,
		   void *obj)
{
	struct cfg_tun *t = obj;
	const yaml_node_t *got[TUN_COUNT];
	int ret = cfg_parse_fields(c, n, path, tun_fields, TUN_COUNT, t, got);
	if (ret)
		return ret;
	c->tun_node = n;
	/* IPv6 requires links of at least 1280 bytes (RFC 8200). */
	if (got[TUN_MTU] && t->mtu != 0 && t->mtu < 1280 && t->addr6.family)
		return cfg_fail(
		    c, got[TUN_MTU], "tun.mtu",
		    "expected at least 1280 with an IPv6 address, got "
		    "%s",
		    cfg_got_str(c, got[TUN_MTU]));
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
		return cfg_fail(c, v, path,
				"too many plugin options (at most %d)",
				CFG_MAX_OPTS);
	o = &s->opts[s->n_opts];
	ret = config_opt_set(o, key, cfg_sval(v),
			     (uint32_t)v->start_mark.line + 1);
	if (ret == -ENAMETOOLONG)
		return cfg_fail(c, v, path,
				"expected a value of at most %zu bytes, got %s",
				sizeof(o->str) - 1, cfg_got_str(c, v));
	if (ret)
		return cfg_fail(c, v, path, "expected an option value, got %s",
				cfg_got_str(c, v));
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
		return cfg_fail(c, n, path,
				"too many plugin options (at most %d)",
				CFG_MAX_OPTS);
	if (n->type == YAML_SCALAR_NODE)
		return opt_add(c, s, prefix, n, path);
	if (n->type != YAML_MAPPING_NODE)
		return cfg_fail(
		    c, n, path,
		    "plugin options cannot be lists; use a mapping or "
		    "a single value");
	for (const yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		const yaml_node_t *k, *v;
		char sub[CFG_KEYPATH_MAX], key[sizeof(s->opts[0].key)];
		int ret = cfg_take_key(c, n, p, path, &k, sub);
		if (ret)
			return ret;
		if (!cfg_name_ok(cfg_sval(k), sizeof(key), "-_", false))
			return cfg_fail(c, k, sub,
					"expected an option name of letters, "
					"digits, '-' or '_', got %s",
					cfg_got_str(c, k));
		if ((size_t)snprintf(key, sizeof(key), "%s.%s", prefix,
				     cfg_sval(k)) >= sizeof(key))
			return cfg_fail(c, k, sub,
					"option name longer than %zu bytes",
					sizeof(key) - 1);
		ret = cfg_take(c, p->value, sub, &v);
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
		return cfg_fail(
		    c, n, path,
		    "expected a mapping like { plugin: roundrobin }, "
		    "got %s",
		    cfg_got_str(c, n));
	s->n_opts = 0;
	for (const yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		const yaml_node_t *k, *v;
		char sub[CFG_KEYPATH_MAX];
		int ret = cfg_take_key(c, n, p, path, &k, sub);
		if (ret)
			return ret;
		ret = cfg_take(c, p->value, sub, &v);
		if (ret)
			return ret;
		if (strcmp(cfg_sval(k), "plugin") == 0) {
			ret = cfg_parse_field(c, &plugin_field, v, sub, s);
			have_plugin = true;
		} else if (!cfg_name_ok(cfg_sval(k), sizeof(s->opts[0].key),
					"-_", false)) {
			ret = cfg_fail(c, k, sub,
				       "expected an option name of letters, "
				       "digits, '-' or '_', got %s",
				       cfg_got_str(c, k));
		} else {
			ret = opt_walk(c, s, cfg_sval(k), v, sub);
		}
		if (ret)
			return ret;
	}
	if (!have_plugin)
		return cfg_missing(
		    c, n, path, "plugin",
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
	return cfg_parse_fields(c, n, path, sched_fields, NF(sched_fields), obj,
				NULL);
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

enum {
	LINK_NAME,
	LINK_INTERFACE,
	LINK_SOURCE,
	LINK_PEER,
	LINK_RATE,
	LINK_METERED,
	LINK_QUOTA,
	LINK_QUOTA_RESET_DAY,
	LINK_BACKUP,
	LINK_WEIGHT,
	LINK_MTU,
	LINK_COUNT
};

static const struct field link_fields[LINK_COUNT] = {
    [LINK_NAME] = FLD("name", K_NAME, struct cfg_link, name, .roles = R_ANY),
    [LINK_INTERFACE] =
	FLD("interface", K_IFNAME, struct cfg_link, interface, .roles = R_ANY),
    [LINK_SOURCE] =
	FLD("source", K_ENDPOINT, struct cfg_link, source, .roles = R_ANY),
    [LINK_PEER] =
	FLD("peer", K_ENDPOINT, struct cfg_link, peer, .roles = R_ANY),
    [LINK_RATE] =
	FLD("rate", K_RATE, struct cfg_link, rate_bps, .roles = R_ANY),
    [LINK_METERED] =
	FLD("metered", K_BOOL, struct cfg_link, metered, .roles = R_ANY),
    [LINK_QUOTA] =
	FLD("quota", K_SIZE, struct cfg_link, quota_bytes, .roles = R_ANY),
    [LINK_QUOTA_RESET_DAY] =
	FLD("quota_reset_day", K_U32, struct cfg_link, quota_reset_day,
	    .roles = R_ANY, .min = 1, .max = 28),
    [LINK_BACKUP] =
	FLD("backup", K_BOOL, struct cfg_link, backup, .roles = R_ANY),
    [LINK_WEIGHT] = FLD("weight", K_U32, struct cfg_link, weight,
			.roles = R_ANY, .min = 0, .max = 65535),
    [LINK_MTU] = FLD("mtu", K_MTU, struct cfg_link, mtu, .roles = R_ANY,
		     .min = 576, .max = 65535),
};

/* A server may write `links: []` but no link; a link resets on day 1. */
static int link_begin(struct cfg_ctx *c, const yaml_node_t *item,
		      const char *sub, void *obj)
{
	struct cfg_link *l = obj;
	if (c->cfg->role == ROLE_SERVER)
		return cfg_fail(c, item, sub,
				"a server has no links; leave `links` out or "
				"empty");
	l->quota_reset_day = 1;
	return 0;
}

/* check_client() later points at `source` when it cannot reach the peer. */
static int link_check(struct cfg_ctx *c, uint32_t i, const yaml_node_t *item,
		      const char *sub, const yaml_node_t **got)
{
	c->link_src[i] = got[LINK_SOURCE];
	return 0;
}

static const struct list_spec link_list = {
    .noun = "link",
    .fields = link_fields,
    .n_fields = LINK_COUNT,
    .name_slot = LINK_NAME,
    .name_hint = "a unique link name like dsl or lte",
    .item_size = sizeof(struct cfg_link),
    .max = CFG_MAX_LINKS,
    .begin = link_begin,
    .check = link_check,
};

static int sec_links(struct cfg_ctx *c, const yaml_node_t *n, const char *path,
		     void *obj)
{
	(void)obj;
	return cfg_parse_list(c, n, path, &link_list, c->cfg->links,
			      &c->cfg->n_links);
}

enum { CL_NAME, CL_KEY, CL_ADDRESS, CL_ADDRESS6, CL_COUNT };

static const struct field client_fields[CL_COUNT] = {
    [CL_NAME] = FLD("name", K_NAME, struct cfg_client, name, .roles = R_ANY),
    [CL_KEY] = FLD("key", K_STR, struct cfg_client, key_file, .roles = R_ANY,
		   .min = 1),
    [CL_ADDRESS] =
	FLD("address", K_PREFIX4, struct cfg_client, addr4, .roles = R_ANY),
    [CL_ADDRESS6] =
	FLD("address6", K_PREFIX6, struct cfg_client, addr6, .roles = R_ANY),
};

/* A client needs its key and at least one inner address. */
static int client_check(struct cfg_ctx *c, uint32_t i, const yaml_node_t *item,
			const char *sub, const yaml_node_t **got)
{
	if (!got[CL_KEY])
		return cfg_missing(c, item, sub, "key",
				   "the path of the client's key file");
	if (!got[CL_ADDRESS] && !got[CL_ADDRESS6])
		return cfg_missing(c, item, sub, "address",
				   "the client's inner IPv4 `address` "
				   "and/or IPv6 `address6`");
	/* check_server() later points at them. */
	c->client_addr[i][0] = got[CL_ADDRESS];
	c->client_addr[i][1] = got[CL_ADDRESS6];
	return 0;
}

/* Two clients may not share an inner address: replies would go astray. */
static int client_clash(struct cfg_ctx *c, uint32_t i, uint32_t j,
			const char *sub, const yaml_node_t **got)
{
	const struct cfg_client *cl = &c->cfg->clients[i];
	const struct cfg_client *o = &c->cfg->clients[j];

	if (cfg_prefix_same_addr(&o->addr4, &cl->addr4))
		return cfg_fail(c, got[CL_ADDRESS], sub,
				"address %s is also clients[%u]'s",
				cfg_quote(c, cfg_sval(got[CL_ADDRESS])), j);
	if (cfg_prefix_same_addr(&o->addr6, &cl->addr6))
		return cfg_fail(c, got[CL_ADDRESS6], sub,
				"address6 %s is also clients[%u]'s",
				cfg_quote(c, cfg_sval(got[CL_ADDRESS6])), j);
	return 0;
}

static const struct list_spec client_list = {
    .noun = "client",
    .fields = client_fields,
    .n_fields = CL_COUNT,
    .name_slot = CL_NAME,
    .name_hint = "a unique client name like laptop",
    .item_size = sizeof(struct cfg_client),
    .max = CFG_MAX_CLIENTS,
    .check = client_check,
    .clash = client_clash,
};

_Static_assert(LINK_COUNT <= LIST_FIELDS_MAX && CL_COUNT <= LIST_FIELDS_MAX,
	       "a list table outgrew LIST_FIELDS_MAX");

static int sec_clients(struct cfg_ctx *c, const yaml_node_t *n,
		       const char *path, void *obj)
{
	(void)obj;
	return cfg_parse_list(c, n, path, &client_list, c->cfg->clients,
			      &c->cfg->n_clients);
}

enum {
	PR_INTERVAL,
	PR_TIMEOUT,
	PR_DEGRADED_LOSS,
	PR_DEGRADED_RTT,
	PR_LOSS_WINDOW,
	PR_COUNT
};

static const struct field probe_fields[PR_COUNT] = {
    [PR_INTERVAL] = FLD("interval", K_DURATION, struct cfg_probe, interval_ms,
			.roles = R_ANY, .min = 1, .max = 60000),
    [PR_TIMEOUT] = FLD("timeout", K_DURATION, struct cfg_probe, timeout_ms,
		       .roles = R_ANY, .min = 2, .max = 600000),
    [PR_DEGRADED_LOSS] = FLD("degraded_loss", K_PERCENT, struct cfg_probe,
			     degraded_loss_ppm, .roles = R_ANY),
    [PR_DEGRADED_RTT] =
	FLD("degraded_rtt", K_DURATION, struct cfg_probe, degraded_rtt_ms,
	    .roles = R_ANY, .min = 0, .max = 60000),
    [PR_LOSS_WINDOW] = FLD("loss_window", K_U32, struct cfg_probe, loss_window,
			   .roles = R_ANY, .min = 1, .max = 10000),
};

static int sec_probe(struct cfg_ctx *c, const yaml_node_t *n, const char *path,
		     void *obj)
{
	struct cfg_probe *p = obj;
	const yaml_node_t *got[PR_COUNT];
	char iv[24];
	int ret = cfg_parse_fields(c, n, path, probe_fields, PR_COUNT, p, got);
	if (ret)
		return ret;
	/* One lost probe must not declare a link down. */
	if ((uint64_t)p->timeout_ms < 2 * (uint64_t)p->interval_ms) {
		cfg_fmt_ms(iv, sizeof(iv), p->interval_ms);
		if (got[PR_TIMEOUT])
			return cfg_fail(
			    c, got[PR_TIMEOUT], "probe.timeout",
			    "expected at least 2 probe intervals (2 x "
			    "%s), got %s",
			    iv, cfg_got_str(c, got[PR_TIMEOUT]));
		return cfg_fail(c, got[PR_INTERVAL], "probe.interval",
				"%s leaves the default timeout of %ums shorter "
				"than 2 intervals; raise probe.timeout",
				cfg_got_str(c, got[PR_INTERVAL]),
				p->timeout_ms);
	}
	return 0;
}

enum { RO_ENABLED, RO_CAPACITY, RO_MIN_HOLD, RO_MAX_HOLD, RO_COUNT };

static const struct field reorder_fields[RO_COUNT] = {
    [RO_ENABLED] =
	FLD("enabled", K_BOOL, struct cfg_reorder, enabled, .roles = R_ANY),
    [RO_CAPACITY] = FLD("capacity", K_U32, struct cfg_reorder, capacity,
			.roles = R_ANY, .min = 16, .max = 65536),
    [RO_MIN_HOLD] = FLD("min_hold", K_DURATION, struct cfg_reorder, min_hold_ms,
			.roles = R_ANY, .min = 0, .max = 10000),
    [RO_MAX_HOLD] = FLD("max_hold", K_DURATION, struct cfg_reorder, max_hold_ms,
			.roles = R_ANY, .min = 1, .max = 10000),
};

static int sec_reorder(struct cfg_ctx *c, const yaml_node_t *n,
		       const char *path, void *obj)
{
	struct cfg_reorder *r = obj;
	const yaml_node_t *got[RO_COUNT];
	int ret =
	    cfg_parse_fields(c, n, path, reorder_fields, RO_COUNT, r, got);
	if (ret)
		return ret;
	/* The reorder ring indexes with a mask. */
	if (r->capacity & (r->capacity - 1))
		return cfg_fail(c, got[RO_CAPACITY], "reorder.capacity",
				"expected a power of two from 16 to 65536, got "
				"%s",
				cfg_got_str(c, got[RO_CAPACITY]));
	if (r->min_hold_ms > r->max_hold_ms) {
		const yaml_node_t *min = got[RO_MIN_HOLD];
		const yaml_node_t *at = min ? min : got[RO_MAX_HOLD];
		return cfg_fail(
		    c, at, min ? "reorder.min_hold" : "reorder.max_hold",
		    "min_hold (%ums) must not exceed max_hold (%ums)",
		    r->min_hold_ms, r->max_hold_ms);
	}
	return 0;
}

enum {
	LM_QUEUE_TARGET,
	LM_INITIAL_RATE,
	LM_FEEDBACK,
	LM_QUEUE_PACKETS,
	LM_QUEUE_BYTES,
	LM_AQM_TARGET,
	LM_AQM_INTERVAL,
	LM_ECN,
	LM_COUNT
};

static const struct field link_model_fields[LM_COUNT] = {
    [LM_QUEUE_TARGET] =
	FLD("queue_target", K_DURATION, struct cfg_link_model, queue_target_ms,
	    .roles = R_ANY, .min = 1, .max = 1000),
    [LM_INITIAL_RATE] = FLD("initial_rate", K_RATE, struct cfg_link_model,
			    initial_rate_bps, .roles = R_ANY),
    [LM_FEEDBACK] = FLD("feedback_interval", K_DURATION, struct cfg_link_model,
			feedback_ms, .roles = R_ANY, .min = 5, .max = 1000),
    [LM_QUEUE_PACKETS] =
	FLD("queue_packets", K_U32, struct cfg_link_model, queue_packets,
	    .roles = R_ANY, .min = 16, .max = 65536),
    [LM_QUEUE_BYTES] = FLD("queue_bytes", K_SIZE, struct cfg_link_model,
			   queue_bytes, .roles = R_ANY),
    [LM_AQM_TARGET] =
	FLD("aqm_target", K_DURATION, struct cfg_link_model, aqm_target_ms,
	    .roles = R_ANY, .min = 1, .max = 10000),
    [LM_AQM_INTERVAL] =
	FLD("aqm_interval", K_DURATION, struct cfg_link_model, aqm_interval_ms,
	    .roles = R_ANY, .min = 1, .max = 10000),
    [LM_ECN] = FLD("ecn", K_BOOL, struct cfg_link_model, ecn, .roles = R_ANY),
};

/* `link_model:` (docs/link-model.md). */
static int sec_link_model(struct cfg_ctx *c, const yaml_node_t *n,
			  const char *path, void *obj)
{
	struct cfg_link_model *m = obj;
	const yaml_node_t *got[LM_COUNT];
	int ret =
	    cfg_parse_fields(c, n, path, link_model_fields, LM_COUNT, m, got);
	if (ret)
		return ret;
	if (got[LM_INITIAL_RATE] && m->initial_rate_bps < 100000)
		return cfg_fail(c, got[LM_INITIAL_RATE],
				"link_model.initial_rate",
				"expected at least 100kbit, got %s",
				cfg_got_str(c, got[LM_INITIAL_RATE]));
	if (got[LM_QUEUE_BYTES] && m->queue_bytes < 65536)
		return cfg_fail(c, got[LM_QUEUE_BYTES],
				"link_model.queue_bytes",
				"expected at least 64KiB, got %s",
				cfg_got_str(c, got[LM_QUEUE_BYTES]));
	return 0;
}

enum { RC_ENABLED, RC_BUDGET, RC_STORE, RC_MAX_WAIT, RC_COPY_AHEAD, RC_COUNT };

static const struct field recovery_fields[RC_COUNT] = {
    [RC_ENABLED] =
	FLD("enabled", K_BOOL, struct cfg_recovery, enabled, .roles = R_ANY),
    [RC_BUDGET] = FLD("budget", K_U32, struct cfg_recovery, budget_pct,
		      .roles = R_ANY, .min = 0, .max = 100),
    [RC_STORE] = FLD("store_packets", K_U32, struct cfg_recovery, store_packets,
		     .roles = R_ANY, .min = 16, .max = 65536),
    [RC_MAX_WAIT] = FLD("max_wait", K_DURATION, struct cfg_recovery,
			max_wait_ms, .roles = R_ANY, .min = 1, .max = 10000),
    [RC_COPY_AHEAD] = FLD("copy_ahead", K_BOOL, struct cfg_recovery, copy_ahead,
			  .roles = R_ANY),
};

/* `recovery:` (docs/loss-recovery.md). */
static int sec_recovery(struct cfg_ctx *c, const yaml_node_t *n,
			const char *path, void *obj)
{
	struct cfg_recovery *r = obj;
	const yaml_node_t *got[RC_COUNT];
	int ret =
	    cfg_parse_fields(c, n, path, recovery_fields, RC_COUNT, r, got);
	if (ret)
		return ret;
	/* The store's rings index with a mask. */
	if (r->store_packets & (r->store_packets - 1))
		return cfg_fail(c, got[RC_STORE], "recovery.store_packets",
				"expected a power of two from 16 to 65536, "
				"got %s",
				cfg_got_str(c, got[RC_STORE]));
	return 0;
}

enum { RK_INTERVAL, RK_BYTES, RK_PACKETS, RK_COUNT };

static const struct field rekey_fields[RK_COUNT] = {
    [RK_INTERVAL] = FLD("interval", K_DURATION, struct cfg_rekey, interval_ms,
			.roles = R_CLIENT, .min = 1000, .max = 86400000),
    [RK_BYTES] =
	FLD("bytes", K_SIZE, struct cfg_rekey, bytes, .roles = R_CLIENT),
    [RK_PACKETS] = FLD("packets", K_U32, struct cfg_rekey, packets,
		       .roles = R_CLIENT, .min = 0, .max = UINT32_MAX),
};

/* When the client rekeys (wire/rekey.h); every limit may be 0 = off
 * except the interval, which keeps keys from living for months. */
static int sec_rekey(struct cfg_ctx *c, const yaml_node_t *n, const char *path,
		     void *obj)
{
	const yaml_node_t *got[RK_COUNT];
	return cfg_parse_fields(c, n, path, rekey_fields, RK_COUNT, obj, got);
}

enum {
	FQ_ENABLED,
	FQ_FLOWS,
	FQ_QUANTUM,
	FQ_INTERACTIVE,
	FQ_DSCP,
	FQ_SPARSE_RATE,
	FQ_SPARSE_BURST,
	FQ_DUPLICATE,
	FQ_COUNT
};

static const struct enum_name interactive_names[] = {
    {"auto", CFG_INTERACTIVE_AUTO},
    {"dscp", CFG_INTERACTIVE_DSCP},
    {"off", CFG_INTERACTIVE_OFF},
    {NULL, 0}};
static const struct enum_name duplicate_names[] = {
    {"none", CFG_DUP_NONE},
    {"interactive", CFG_DUP_INTERACTIVE},
    {"dscp", CFG_DUP_DSCP},
    {NULL, 0}};

static const struct field flow_queue_fields[FQ_COUNT] = {
    [FQ_ENABLED] =
	FLD("enabled", K_BOOL, struct cfg_flow_queue, enabled, .roles = R_ANY),
    [FQ_FLOWS] = FLD("flows", K_U32, struct cfg_flow_queue, flows,
		     .roles = R_ANY, .min = 16, .max = 65536),
    [FQ_QUANTUM] =
	FLD("quantum", K_SIZE, struct cfg_flow_queue, quantum, .roles = R_ANY),
    [FQ_INTERACTIVE] =
	FLD("interactive", K_ENUM, struct cfg_flow_queue, interactive,
	    .roles = R_ANY, .names = interactive_names),
    [FQ_DSCP] = FLD("interactive_dscp", K_STR, struct cfg_flow_queue,
		    interactive_dscp, .roles = R_ANY),
    [FQ_SPARSE_RATE] = FLD("sparse_rate", K_RATE, struct cfg_flow_queue,
			   sparse_rate_bps, .roles = R_ANY),
    [FQ_SPARSE_BURST] = FLD("sparse_burst", K_SIZE, struct cfg_flow_queue,
			    sparse_burst, .roles = R_ANY),
    [FQ_DUPLICATE] = FLD("duplicate", K_ENUM, struct cfg_flow_queue, duplicate,
			 .roles = R_ANY, .names = duplicate_names),
};

/* `flow_queue:` (docs/config.md: flow queueing, the interactive class). */
static int sec_flow_queue(struct cfg_ctx *c, const yaml_node_t *n,
			  const char *path, void *obj)
{
	struct cfg_flow_queue *f = obj;
	const yaml_node_t *got[FQ_COUNT];
	int ret =
	    cfg_parse_fields(c, n, path, flow_queue_fields, FQ_COUNT, f, got);
	if (ret)
		return ret;
	if (got[FQ_FLOWS] && (f->flows & (f->flows - 1)))
		return cfg_fail(c, got[FQ_FLOWS], "flow_queue.flows",
				"expected a power of two from 16 to 65536, "
				"got %s",
				cfg_got_str(c, got[FQ_FLOWS]));
	if (got[FQ_QUANTUM] && (f->quantum < 256 || f->quantum > 65536))
		return cfg_fail(c, got[FQ_QUANTUM], "flow_queue.quantum",
				"expected a size from 256 to 64KiB, got %s",
				cfg_got_str(c, got[FQ_QUANTUM]));
	if (got[FQ_SPARSE_RATE] && f->sparse_rate_bps < 8000)
		return cfg_fail(c, got[FQ_SPARSE_RATE],
				"flow_queue.sparse_rate",
				"expected at least 8kbit, got %s",
				cfg_got_str(c, got[FQ_SPARSE_RATE]));
	if (got[FQ_SPARSE_BURST] &&
	    (f->sparse_burst < 64 || f->sparse_burst > 1048576))
		return cfg_fail(c, got[FQ_SPARSE_BURST],
				"flow_queue.sparse_burst",
				"expected a size from 64 bytes to 1MiB, got %s",
				cfg_got_str(c, got[FQ_SPARSE_BURST]));
	if (got[FQ_DSCP]) {
		const char *bad;
		if (fq_dscp_mask_parse(f->interactive_dscp, &f->dscp_mask,
				       &bad) < 0)
			return cfg_fail(c, got[FQ_DSCP],
					"flow_queue.interactive_dscp",
					"expected DSCP names (ef, cs0-cs7, "
					"af11-af43, va, le) or numbers 0-63 "
					"separated by commas, got %s",
					cfg_got_str(c, got[FQ_DSCP]));
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
	return cfg_parse_fields(c, n, path, control_fields, NF(control_fields),
				obj, NULL);
}

enum {
	HK_LINK_UP = CFG_HOOK_LINK_UP,
	HK_LINK_DOWN = CFG_HOOK_LINK_DOWN,
	HK_SESSION_UP = CFG_HOOK_SESSION_UP,
	HK_SESSION_DOWN = CFG_HOOK_SESSION_DOWN,
	HK_TIMEOUT,
	HK_MAX_RUNNING,
	HK_COUNT
};

static const struct field hook_fields[HK_COUNT] = {
    [HK_LINK_UP] = FLD("link_up", K_STR, struct cfg_hooks,
		       cmd[CFG_HOOK_LINK_UP], .roles = R_ANY),
    [HK_LINK_DOWN] = FLD("link_down", K_STR, struct cfg_hooks,
			 cmd[CFG_HOOK_LINK_DOWN], .roles = R_ANY),
    [HK_SESSION_UP] = FLD("session_up", K_STR, struct cfg_hooks,
			  cmd[CFG_HOOK_SESSION_UP], .roles = R_ANY),
    [HK_SESSION_DOWN] = FLD("session_down", K_STR, struct cfg_hooks,
			    cmd[CFG_HOOK_SESSION_DOWN], .roles = R_ANY),
    [HK_TIMEOUT] = FLD("timeout", K_DURATION, struct cfg_hooks, timeout_ms,
		       .roles = R_ANY, .min = 100, .max = 3600000),
    [HK_MAX_RUNNING] = FLD("max_running", K_U32, struct cfg_hooks, max_running,
			   .roles = R_ANY, .min = 1, .max = 64),
};

/* hooks: { link_up: CMD, ... }: each command must split (os/hookcmd.h), so
 * a bad one stops the start here and not at the first event. */
static int sec_hooks(struct cfg_ctx *c, const yaml_node_t *n, const char *path,
		     void *obj)
{
	struct cfg_hooks *h = obj;
	const yaml_node_t *got[HK_COUNT];
	int ret = cfg_parse_fields(c, n, path, hook_fields, HK_COUNT, h, got);
	if (ret)
		return ret;
	for (int i = 0; i < CFG_HOOK_NEVENTS; i++) {
		char buf[CFG_STR_MAX], *argv[HOOKCMD_MAX_ARGS + 1], key[64];
		struct err e;
		if (!got[i])
			continue;
		snprintf(key, sizeof(key), "hooks.%s", hook_fields[i].key);
		if (hookcmd_split(h->cmd[i], buf, sizeof(buf), argv,
				  HOOKCMD_MAX_ARGS + 1, &e) < 0)
			return cfg_fail(c, got[i], key, "%s: %s", e.msg,
					cfg_got_str(c, got[i]));
	}
	return 0;
}

enum {
	HT_ENABLED,
	HT_LISTEN,
	HT_TOKEN,
	HT_TOKEN_FILE,
	HT_USER,
	HT_PASSWORD,
	HT_PASSWORD_FILE,
	HT_COUNT
};

static const struct field http_fields[HT_COUNT] = {
    [HT_ENABLED] =
	FLD("enabled", K_BOOL, struct cfg_http, enabled, .roles = R_ANY),
    [HT_LISTEN] =
	FLD("listen", K_ENDPOINT, struct cfg_http, listen, .roles = R_ANY),
    [HT_TOKEN] =
	FLD("token", K_STR, struct cfg_http, token, .roles = R_ANY, .min = 16),
    [HT_TOKEN_FILE] = FLD("token_file", K_STR, struct cfg_http, token_file,
			  .roles = R_ANY, .min = 1),
    [HT_USER] = FLD("user", K_USER, struct cfg_http, user, .roles = R_ANY),
    [HT_PASSWORD] = FLD("password", K_STR, struct cfg_http, password,
			.roles = R_ANY, .min = 8),
    [HT_PASSWORD_FILE] = FLD("password_file", K_STR, struct cfg_http,
			     password_file, .roles = R_ANY, .min = 1),
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
	const yaml_node_t *got[HT_COUNT];
	h->enabled = true;
	int ret = cfg_parse_fields(c, n, path, http_fields, HT_COUNT, h, got);
	if (ret)
		return ret;
	if (cfg_sa_port(&h->listen) == 0)
		cfg_sa_set_port(&h->listen, CFG_HTTP_DEFAULT_PORT);
	if (got[HT_TOKEN] && got[HT_TOKEN_FILE])
		return cfg_fail(c, got[HT_TOKEN_FILE], "http.token_file",
				"give either token or token_file, not both");
	if (got[HT_PASSWORD] && got[HT_PASSWORD_FILE])
		return cfg_fail(c, got[HT_PASSWORD_FILE], "http.password_file",
				"give either password or password_file, not "
				"both");
	bool pw = got[HT_PASSWORD] || got[HT_PASSWORD_FILE];
	if (got[HT_USER] && !pw)
		return cfg_missing(c, n, path, "password",
				   "a password (or password_file) for "
				   "http.user");
	if (pw && !got[HT_USER])
		return cfg_missing(c, n, path, "user",
				   "the basic-auth user name the password is "
				   "for");
	if (h->enabled && !sa_is_loopback(&h->listen) && !got[HT_TOKEN] &&
	    !got[HT_TOKEN_FILE] && !got[HT_USER])
		return cfg_fail(c, got[HT_LISTEN], "http.listen",
				"%s is not a loopback address: set http.token "
				"(or token_file) or http.user and password, so "
				"other hosts must authenticate",
				cfg_got_str(c, got[HT_LISTEN]));
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
	return cfg_parse_fields(c, n, path, log_fields, NF(log_fields), obj,
				NULL);
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
	RF_LINK_MODEL,
	RF_FLOW_QUEUE,
	RF_RECOVERY,
	RF_CONTROL,
	RF_HOOKS,
	RF_HTTP,
	RF_PLUGIN_DIR,
	RF_STATE_FILE,
	RF_USER,
	RF_KEEPALIVE,
	RF_LOG,
	RF_REKEY,
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
    [RF_LINK_MODEL] = FLD("link_model", K_SECTION, struct config, link_model,
			  .roles = R_ANY, .section = sec_link_model),
    [RF_FLOW_QUEUE] = FLD("flow_queue", K_SECTION, struct config, flow_queue,
			  .roles = R_ANY, .section = sec_flow_queue),
    [RF_RECOVERY] = FLD("recovery", K_SECTION, struct config, recovery,
			.roles = R_ANY, .section = sec_recovery),
    [RF_CONTROL] = FLD("control", K_SECTION, struct config, control,
		       .roles = R_ANY, .section = sec_control),
    [RF_HOOKS] = FLD("hooks", K_SECTION, struct config, hooks, .roles = R_ANY,
		     .section = sec_hooks),
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
    [RF_REKEY] = FLD("rekey", K_SECTION, struct config, rekey,
		     .roles = R_CLIENT, .section = sec_rekey),
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
		    strcmp(cfg_sval(k), "role") != 0)
			continue;
		return cfg_parse_field(c, &root_fields[RF_ROLE], v, "role",
				       c->cfg);
	}
	return cfg_fail(c, root, "role",
			"missing; expected `role: client` or `role: server`");
}

static int check_client(struct cfg_ctx *c, const yaml_node_t **got)
{
	struct config *cfg = c->cfg;
	const yaml_node_t *root = c->root;

	if (!got[RF_SERVER])
		return cfg_missing(c, root, "", "server",
				   "server: { address: ..., port: ... }");
	if (!got[RF_KEY])
		return cfg_missing(c, root, "", "key",
				   "the path of this client's key file");
	if (cfg->n_links == 0)
		return cfg_fail(
		    c, got[RF_LINKS] ? got[RF_LINKS] : root, "links",
		    "a client needs at least one link, like - { name: "
		    "dsl, interface: eth0 }");
	if (cfg->tun.addr4.family == 0)
		return cfg_missing(c, c->tun_node ? c->tun_node : root, "tun",
				   "address",
				   "the client's inner IPv4 prefix like "
				   "10.77.0.2/24");
	for (uint32_t i = 0; i < cfg->n_links; i++) {
		struct cfg_link *l = &cfg->links[i];
		char sub[CFG_KEYPATH_MAX];
		if (l->peer.ss.ss_family == AF_UNSPEC) {
			l->peer = cfg->server; /* empty for a host name */
			l->peer_is_server = true;
		} else if (cfg_sa_port(&l->peer) == 0) {
			cfg_sa_set_port(&l->peer, cfg->server_port);
		}
		snprintf(sub, sizeof(sub), "links[%u].source", i);
		/* A host name's family is known once it resolves; the
		 * resolver asks for the source's family then. */
		if (l->source.ss.ss_family != AF_UNSPEC &&
		    l->peer.ss.ss_family != AF_UNSPEC &&
		    l->source.ss.ss_family != l->peer.ss.ss_family)
			return cfg_fail(
			    c, c->link_src[i], sub,
			    "%s cannot reach the %s peer address",
			    l->source.ss.ss_family == AF_INET
				? "an IPv4 source"
				: "an IPv6 source",
			    l->peer.ss.ss_family == AF_INET ? "IPv4" : "IPv6");
	}
	/* The routes pinned at start would point at a stale address. */
	if (cfg->default_route && cfg->server_host[0])
		return cfg_fail(c, got[RF_DEFAULT_ROUTE], "default_route",
				"needs server.address as an IP address (the "
				"route to the server is pinned at start), not "
				"the host name %s",
				cfg_quote(c, cfg->server_host));
	return 0;
}

static int check_server(struct cfg_ctx *c, const yaml_node_t **got)
{
	struct config *cfg = c->cfg;
	if (cfg->n_clients == 0)
		return cfg_fail(c, got[RF_CLIENTS] ? got[RF_CLIENTS] : c->root,
				"clients",
				"a server needs at least one client, like - { "
				"name: laptop, key: /etc/tuntuntun/laptop.key, "
				"address: 10.77.0.2 }");
	/* The server's own tun address cannot be routed to a client. */
	for (uint32_t i = 0; i < cfg->n_clients; i++) {
		const struct cfg_client *cl = &cfg->clients[i];
		char sub[CFG_KEYPATH_MAX];
		int v6 = cfg_prefix_same_addr(&cfg->tun.addr6, &cl->addr6);
		if (!v6 && !cfg_prefix_same_addr(&cfg->tun.addr4, &cl->addr4))
			continue;
		snprintf(sub, sizeof(sub), "clients[%u].%s", i,
			 v6 ? "address6" : "address");
		return cfg_fail(c, c->client_addr[i][v6], sub,
				"%s is the server's own tun address",
				cfg_got_str(c, c->client_addr[i][v6]));
	}
	return 0;
}

int cfg_load_root(struct cfg_ctx *c)
{
	const yaml_node_t *got[RF_COUNT];
	int ret;

	if (c->root->type != YAML_MAPPING_NODE)
		return cfg_fail(
		    c, c->root, "",
		    "expected a mapping of keys at the top level, got "
		    "%s",
		    cfg_got_str(c, c->root));
	ret = find_role(c);
	if (ret)
		return ret;
	ret = cfg_parse_fields(c, c->root, "", root_fields, RF_COUNT, c->cfg,
			       got);
	if (ret)
		return ret;
	if (c->cfg->role == ROLE_CLIENT)
		return check_client(c, got);
	return check_server(c, got);
}
