/*
 * In-session control messages (WT_CONTROL, authenticated like data): small
 * JSON objects with a "t" (type) member.
 *
 *   client -> server  {"t":"link-info","links":[{id,name,rate,metered,
 *                      backup,weight,quota,used}]}   every 5 s and on change:
 *                      the server's downstream scheduler needs the same link
 *                      facts the client's YAML gives its upstream one.
 *   client -> server  {"t":"sched-set","req":N,"plugin":P,"options":{..}}
 *   server -> client  {"t":"sched-reply","req":N,"ok":true|false,"error":E}
 *   server -> client  {"t":"sched-fallback","asked":P,"plugin":Q}  the
 *                      HELLO asked for downstream P, which the server
 *                      cannot run, so it runs its default Q; sent in
 *                      answer to the first 3 link-infos of the session.
 *                      Older clients count it as a bad message, no more.
 *
 * UDP may lose a message: link-info is periodic, sched-set is retried by the
 * client until its reply arrives or it gives up.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "daemon.h"
#include "datapath.h"
#include "base/log.h"
#include "peerctl.h"

static int send_json(struct session *s, json_t *msg, uint64_t now)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	int ret = -ENOMEM, sent = 0;
	if (!text)
		return ret;
	size_t len = strlen(text);
	/* On every usable path: the message is small and loss is likely on a
	 * failing link, which is when a swap is wanted most. */
	for (uint32_t i = 0; i < s->n_paths; i++) {
		struct path *p = &s->paths[i];
		if (p->fd < 0 || !p->known || p->admin_down)
			continue;
		if (datapath_send_msg(s, p, WT_CONTROL, (const uint8_t *)text,
				      len, now) == 0)
			sent++;
	}
	free(text);
	return sent ? 0 : -ENOTCONN;
}

int peerctl_send_link_info(struct session *s, uint64_t now)
{
	struct daemon *d = s->d;
	json_t *links = json_array();
	for (uint32_t i = 0; i < d->cfg.n_links; i++) {
		const struct cfg_link *l = &d->cfg.links[i];
		struct path *p = &s->paths[i];
		json_array_append_new(
		    links,
		    json_pack("{s:i,s:s,s:I,s:b,s:b,s:i,s:I,s:I}", "id", (int)i,
			      "name", l->name, "rate", (json_int_t)l->rate_bps,
			      "metered", l->metered, "backup", l->backup,
			      "weight", (int)l->weight, "quota",
			      (json_int_t)l->quota_bytes, "used",
			      (json_int_t)p->quota_used_bytes));
	}
	json_t *msg = json_pack("{s:s,s:o}", "t", "link-info", "links", links);
	int ret = send_json(s, msg, now);
	json_decref(msg);
	return ret;
}

/* A link name as the client's YAML allows it (conf/config.c K_NAME):
 * alphanumeric first, then [A-Za-z0-9_-], shorter than CFG_NAME_MAX. So
 * a peer's name is safe in logs and never contains the '/' of the
 * server's CLIENT/LINK names. */
static bool link_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= CFG_NAME_MAX || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80 || !(isalnum(c) || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* Server: apply the client's description of its links. */
static void on_link_info(struct session *s, json_t *msg)
{
	json_t *links = json_object_get(msg, "links"), *l;
	size_t i;
	if (!json_is_array(links))
		return;
	json_array_foreach(links, i, l)
	{
		json_int_t id = json_integer_value(json_object_get(l, "id"));
		const char *name =
		    json_string_value(json_object_get(l, "name"));
		if (id < 0 || id >= CFG_MAX_LINKS || !name ||
		    !link_name_ok(name)) {
			s->rx_bad++;
			continue;
		}
		struct path *p = &s->paths[id];
		if (!p->sess)
			session_path_init(s, (uint32_t)id, name);
		snprintf(p->name, sizeof(p->name), "%s", name);
		p->rate_bps =
		    (uint64_t)json_integer_value(json_object_get(l, "rate"));
		p->metered = json_is_true(json_object_get(l, "metered"));
		p->backup = json_is_true(json_object_get(l, "backup"));
		p->weight =
		    (uint32_t)json_integer_value(json_object_get(l, "weight"));
		p->quota_bytes =
		    (uint64_t)json_integer_value(json_object_get(l, "quota"));
		p->quota_used_bytes =
		    (uint64_t)json_integer_value(json_object_get(l, "used"));
	}
	s->views_dirty = true;
}

/* Converts {"k": v, ...} into plugin options. Returns count or -EINVAL. */
int peerctl_options(json_t *obj, struct cfg_opt *opts, uint32_t max,
		    struct err *e)
{
	const char *key;
	json_t *v;
	uint32_t n = 0;
	if (!obj)
		return 0;
	if (!json_is_object(obj))
		return err_set(e, -EINVAL, "options must be an object");
	json_object_foreach(obj, key, v)
	{
		char buf[128];
		if (n >= max)
			return err_set(e, -EINVAL, "too many options (max %u)",
				       max);
		if (json_is_string(v))
			snprintf(buf, sizeof(buf), "%s", json_string_value(v));
		else if (json_is_integer(v))
			snprintf(buf, sizeof(buf), "%lld",
				 (long long)json_integer_value(v));
		else if (json_is_real(v))
			snprintf(buf, sizeof(buf), "%g", json_real_value(v));
		else if (json_is_boolean(v))
			snprintf(buf, sizeof(buf), "%s",
				 json_is_true(v) ? "true" : "false");
		else
			return err_set(e, -EINVAL,
				       "option \"%s\": expected a scalar", key);
		if (config_opt_set(&opts[n], key, buf, 0) < 0)
			return err_set(e, -EINVAL, "option \"%s\" is too long",
				       key);
		n++;
	}
	return (int)n;
}

static void on_sched_set(struct session *s, json_t *msg, uint64_t now)
{
	struct cfg_opt opts[CFG_MAX_OPTS];
	struct err e = {""};
	json_int_t req = json_integer_value(json_object_get(msg, "req"));
	const char *plugin = json_string_value(json_object_get(msg, "plugin"));
	char esc[LOG_ESC_NAME];
	int ret = -EINVAL;
	if (!plugin) {
		err_set(&e, -EINVAL, "missing plugin name");
	} else if (req == s->last_sched_req && req != 0) {
		/* A retransmission of what we already did. */
		ret = s->last_sched_ret;
		snprintf(e.msg, sizeof(e.msg), "%s", s->last_sched_err);
	} else {
		int n = peerctl_options(json_object_get(msg, "options"), opts,
					CFG_MAX_OPTS, &e);
		bool loading = n >= 0;
		if (loading)
			ret = session_set_sched_remote(s, plugin, opts,
						       (uint32_t)n, &e);
		if (ret == 0)
			log_notice("sched",
				   "%08x: downstream scheduler is now "
				   "%s (client's request)",
				   s->id, plugin);
		else
			log_warn("sched",
				 "%08x: downstream swap to \"%s\" refused: "
				 "%s",
				 s->id, log_esc(plugin, esc, sizeof(esc)),
				 e.msg);
		/* The detail stays in our log: whether a file exists here
		 * and what it holds is none of the peer's business. */
		if (ret < 0 && loading)
			snprintf(e.msg, sizeof(e.msg),
				 "downstream plugin not available");
		s->last_sched_req = req;
		s->last_sched_ret = ret;
		snprintf(s->last_sched_err, sizeof(s->last_sched_err), "%s",
			 ret < 0 ? e.msg : "");
	}
	json_t *reply = json_pack("{s:s,s:I,s:b}", "t", "sched-reply", "req",
				  req, "ok", ret == 0);
	if (ret < 0)
		json_object_set_new(reply, "error", json_string(e.msg));
	send_json(s, reply, now);
	json_decref(reply);
}

/* A peer's string for the log: anything but printable ASCII becomes '?'. */
static const char *printable(const char *in, char *buf, size_t n)
{
	size_t i = 0;
	for (; in[i] && i + 1 < n; i++)
		buf[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
	buf[i] = 0;
	return buf;
}

/* Client: the server runs its default downstream instead of ours. */
static void on_sched_fallback(struct session *s, json_t *msg)
{
	struct daemon *d = s->d;
	const char *asked = json_string_value(json_object_get(msg, "asked"));
	const char *plugin = json_string_value(json_object_get(msg, "plugin"));
	if (!asked || !plugin || strlen(asked) >= CFG_NAME_MAX ||
	    strlen(plugin) >= CFG_NAME_MAX) {
		s->rx_bad++;
		return;
	}
	if (!strcmp(d->ds_fallback_from, asked) &&
	    !strcmp(d->ds_fallback_plugin, plugin))
		return; /* already said, this session */
	snprintf(d->ds_fallback_from, sizeof(d->ds_fallback_from), "%s", asked);
	snprintf(d->ds_fallback_plugin, sizeof(d->ds_fallback_plugin), "%s",
		 plugin);
	char a[CFG_NAME_MAX * 4], b[CFG_NAME_MAX * 4];
	log_warn("sched",
		 "the server has no downstream plugin \"%s\" (this YAML's "
		 "scheduler.downstream); it runs its default \"%s\" instead. "
		 "Install the plugin on the server, or choose one it has",
		 printable(asked, a, sizeof(a)),
		 printable(plugin, b, sizeof(b)));
}

void peerctl_on_message(struct session *s, struct path *p, const uint8_t *body,
			size_t len, uint64_t now)
{
	json_error_t je;
	json_t *msg = json_loadb((const char *)body, len, 0, &je);
	const char *t =
	    msg ? json_string_value(json_object_get(msg, "t")) : NULL;
	if (!t) {
		s->rx_bad++;
		json_decref(msg);
		return;
	}
	bool client = s->d->client;
	if (!client && strcmp(t, "link-info") == 0) {
		on_link_info(s, msg);
		if (s->sched_fallback_from[0] && s->sched_fallback_told < 3) {
			json_t *n = json_pack(
			    "{s:s,s:s,s:s}", "t", "sched-fallback", "asked",
			    s->sched_fallback_from, "plugin", s->sched_name);
			if (n && send_json(s, n, now) == 0)
				s->sched_fallback_told++;
			json_decref(n);
		}
	} else if (client && strcmp(t, "sched-fallback") == 0)
		on_sched_fallback(s, msg);
	else if (!client && strcmp(t, "sched-set") == 0)
		on_sched_set(s, msg, now);
	else if (client && strcmp(t, "sched-reply") == 0)
		dswap_on_reply(s, msg);
	else
		s->rx_bad++;
	json_decref(msg);
	(void)p;
}

int peerctl_send_sched_set(struct session *s, uint64_t req, const char *plugin,
			   const struct cfg_opt *opts, uint32_t n, uint64_t now)
{
	json_t *o = json_object();
	for (uint32_t i = 0; i < n; i++)
		json_object_set_new(o, opts[i].key, json_string(opts[i].str));
	json_t *msg =
	    json_pack("{s:s,s:I,s:s,s:o}", "t", "sched-set", "req",
		      (json_int_t)req, "plugin", plugin, "options", o);
	int ret = send_json(s, msg, now);
	json_decref(msg);
	return ret;
}
