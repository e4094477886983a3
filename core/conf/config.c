/*
 * Configuration loader: one YAML file -> struct config, fully validated
 * before anything starts. This file reads the file (bounded), runs libyaml
 * (a streaming prescan first, then the document) and hands the root to
 * sections.c; the walker and its messages are walk.c, the value parsers
 * scalar.c (see conf/internal.h). Nothing here depends on the daemon: the
 * fuzz harness (tests/fuzz/fuzz_config.c, built by scripts/fuzz.sh) links
 * these files with the rest of core/, as tuntunctl does.
 */
#include "conf/internal.h"
#include "base/log.h"
#include "wire/wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

/* A config is a few kilobytes; refusing huge files bounds memory use. */
#define CFG_FILE_MAX (1024 * 1024)
/* YAML events (scalars, mapping and sequence starts and ends) a file may
 * hold. The largest real configuration (64 clients, 16 links, 32 options
 * per scheduler) is a few thousand; refusing early bounds the time a
 * SIGHUP with a wrong file holds the event loop (issue #10.5). */
#define CFG_EVENTS_MAX 16384
/* Deeper than any real config; libyaml's scanner is quadratic in nesting
 * depth, so hostile input is stopped here before it costs minutes. */
#define CFG_DEPTH_MAX 32

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
 * cannot), and more than CFG_EVENTS_MAX events (a file that large is not
 * a configuration, and parsing it would stall a running daemon's reload).
 * Syntax errors surface here with libyaml's own position.
 */
static int prescan(struct cfg_ctx *c, const char *text, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, ret = 0;
	unsigned long events = 0;

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
		if (++events > CFG_EVENTS_MAX)
			ret = err_set(
			    c->e, -EFBIG,
			    "%s:%lu:%lu: more than %d YAML nodes; not "
			    "a tuntuntun configuration?",
			    c->name, (unsigned long)ev.start_mark.line + 1,
			    (unsigned long)ev.start_mark.column + 1,
			    CFG_EVENTS_MAX);
		else if ((type == YAML_MAPPING_START_EVENT ||
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
	cfg_sa_set(&cfg->listen, AF_INET, &any, CFG_DEFAULT_PORT);
	cfg->crypto_mode = CRYPTO_ENCRYPT;
	strcpy(cfg->tun.name, "ttt0");
	for (int d = 0; d < 2; d++)
		strcpy(cfg->sched[d].plugin, "earliest-arrival");
	cfg->probe.interval_ms = 100;
	cfg->rekey.interval_ms = 120000;
	cfg->rekey.packets = 8388608; /* 2^23: RFC 9001's AES-GCM limit */
	cfg->probe.timeout_ms = 1000;
	cfg->probe.degraded_loss_ppm = 50000;
	cfg->probe.loss_window = 50;
	cfg->reorder.enabled = true;
	cfg->reorder.capacity = 4096;
	cfg->reorder.min_hold_ms = 5;
	cfg->reorder.max_hold_ms = 300;
	cfg->link_model.queue_target_ms = 8;
	cfg->link_model.initial_rate_bps = 4000000;
	cfg->link_model.feedback_ms = 20;
	cfg->link_model.queue_packets = 1024;
	cfg->link_model.queue_bytes = 1536 * 1024;
	cfg->link_model.aqm_target_ms = 5;
	cfg->link_model.aqm_interval_ms = 100;
	cfg->link_model.ecn = true;
	cfg->flow_queue.enabled = true;
	cfg->flow_queue.flows = 1024;
	cfg->flow_queue.quantum = 1514;
	cfg->flow_queue.interactive = CFG_INTERACTIVE_AUTO;
	snprintf(cfg->flow_queue.interactive_dscp,
		 sizeof(cfg->flow_queue.interactive_dscp), "ef,cs5,cs6,cs7");
	cfg->flow_queue.dscp_mask =
	    (1ull << 46) | (1ull << 40) | (1ull << 48) | (1ull << 56);
	cfg->flow_queue.sparse_rate_bps = 1000000;
	cfg->flow_queue.sparse_burst = 3000;
	cfg->flow_queue.duplicate = CFG_DUP_NONE;
	cfg->recovery.enabled = true;
	cfg->recovery.budget_pct = 10;
	cfg->recovery.store_packets = 2048;
	cfg->recovery.max_wait_ms = 200;
	strcpy(cfg->control.socket, "/run/tuntuntun.sock");
	cfg->control.mode = 0600;
	cfg->hooks.timeout_ms = 10000;
	cfg->hooks.max_running = 4;
	struct in_addr lo = {.s_addr = htonl(INADDR_LOOPBACK)};
	cfg_sa_set(&cfg->http.listen, AF_INET, &lo, CFG_HTTP_DEFAULT_PORT);
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
	ret = cfg_load_root(&c);
	if (ret == 0) {
		if (cfg->crypto_mode == CRYPTO_NONE)
			log_warn("config",
				 "%s: crypto: none: tunnel traffic is neither "
				 "encrypted nor authenticated",
				 c.name);
		log_debug("config", "%s: %s with %u links, %u clients", c.name,
			  cfg_role_name(cfg->role), cfg->n_links,
			  cfg->n_clients);
	}
	free(c.seen);
out_doc:
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&parser);
	return ret;
}

bool config_sched_equal(const struct cfg_sched *a, const struct cfg_sched *b)
{
	if (strcmp(a->plugin, b->plugin) != 0 || a->n_opts != b->n_opts)
		return false;
	for (uint32_t i = 0; i < a->n_opts; i++)
		if (strcmp(a->opts[i].key, b->opts[i].key) != 0 ||
		    strcmp(a->opts[i].str, b->opts[i].str) != 0)
			return false;
	return true;
}

void config_sched_set(struct cfg_sched *s, const char *plugin,
		      const struct cfg_opt *opts, uint32_t n)
{
	snprintf(s->plugin, sizeof(s->plugin), "%s", plugin);
	if (n)
		memcpy(s->opts, opts, sizeof(opts[0]) * n);
	s->n_opts = n;
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
