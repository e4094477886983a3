/*
 * The file-system and account half of `tuntuntun -n` (see config_check.h).
 * Each check mirrors what the daemon does at start (wire_key_load,
 * privdrop_to_user, ctl_server_start, quota_save, uplink_open) and says
 * in one message what is wrong and what would be right, at the position of
 * the key in the YAML, which is re-parsed here because struct config keeps
 * no positions.
 */
#include "conf/config_check.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <yaml.h>

#include "link/addr.h"
#include "os/nss.h"
#include "wire/wire.h"

int cfgchk_open(struct cfgchk *c, const struct config *cfg)
{
	yaml_parser_t p;
	FILE *f;
	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	(void)wire_init();
	f = fopen(cfg->path, "rb");
	if (!f)
		return 0;
	yaml_document_t *doc = calloc(1, sizeof(*doc));
	if (!doc || !yaml_parser_initialize(&p)) {
		free(doc);
		fclose(f);
		return -ENOMEM;
	}
	yaml_parser_set_input_file(&p, f);
	if (yaml_parser_load(&p, doc) && yaml_document_get_root_node(doc))
		c->doc = doc;
	else {
		if (doc->nodes.start)
			yaml_document_delete(doc);
		free(doc);
	}
	yaml_parser_delete(&p);
	fclose(f);
	return 0;
}

void cfgchk_close(struct cfgchk *c)
{
	if (c->doc) {
		yaml_document_delete(c->doc);
		free(c->doc);
		c->doc = NULL;
	}
}

/* The value of `name` in mapping n, or NULL. */
static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *n,
			    const char *name, size_t len)
{
	if (!n || n->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		if (k && k->type == YAML_SCALAR_NODE &&
		    k->data.scalar.length == len &&
		    memcmp(k->data.scalar.value, name, len) == 0)
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

int cfgchk_locate(const struct cfgchk *c, const char *key, unsigned *line,
		  unsigned *col)
{
	yaml_document_t *doc = c->doc;
	yaml_node_t *n = doc ? yaml_document_get_root_node(doc) : NULL;
	const char *s = key;
	while (n && *s) {
		size_t len = strcspn(s, ".[");
		if (len)
			n = map_get(doc, n, s, len);
		s += len;
		while (n && *s == '[') {
			char *end;
			unsigned long i = strtoul(s + 1, &end, 10);
			if (*end != ']' || n->type != YAML_SEQUENCE_NODE ||
			    i >=
				(unsigned long)(n->data.sequence.items.top -
						n->data.sequence.items.start)) {
				n = NULL;
				break;
			}
			n = yaml_document_get_node(
			    doc, n->data.sequence.items.start[i]);
			s = end + 1;
		}
		if (*s == '.')
			s++;
	}
	if (!n)
		return -ENOENT;
	*line = (unsigned)n->start_mark.line + 1;
	*col = (unsigned)n->start_mark.column + 1;
	return 0;
}

void cfgchk_add(struct cfgchk *c, bool error, const char *key, const char *fmt,
		...)
{
	char msg[600];
	unsigned line, col;
	va_list ap;
	if (error)
		c->n_errors++;
	else
		c->n_warnings++;
	if (c->n_msgs >= CFGCHK_MAX_MSGS)
		return;
	struct cfgchk_msg *m = &c->msgs[c->n_msgs++];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	m->error = error;
	if (cfgchk_locate(c, key, &line, &col) == 0)
		snprintf(m->text, sizeof(m->text), "%s:%u:%u: %s: %s",
			 c->cfg->path, line, col, key, msg);
	else
		snprintf(m->text, sizeof(m->text), "%s: %s: %s", c->cfg->path,
			 key, msg);
}

/* The capabilities in `want` this process lacks in its effective set, as
 * "CAP_SETUID CAP_SETGID" in buf; "" when it has them all. */
static const char *caps_missing(const cap_value_t *want, int n, char *buf,
				size_t len)
{
	cap_t caps = cap_get_proc();
	size_t off = 0;
	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		cap_flag_value_t v = CAP_CLEAR;
		if (caps && cap_get_flag(caps, want[i], CAP_EFFECTIVE, &v) < 0)
			v = CAP_CLEAR;
		if (v == CAP_SET)
			continue;
		char *name = cap_to_name(want[i]);
		int w = snprintf(buf + off, len - off, "%s%s", off ? " " : "",
				 name ? name : "?");
		if (w > 0 && (size_t)w < len - off)
			off += (size_t)w;
		cap_free(name);
	}
	/* cap_to_name() spells them cap_setuid; the unit says CAP_SETUID. */
	for (char *p = buf; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	if (caps)
		cap_free(caps);
	return buf;
}

/* cfgchk_key_file() that also hands the key back (0) for the server's
 * one-key-per-client check; -1 when a finding was recorded. */
static int key_file(struct cfgchk *c, const char *key, const char *path,
		    uint8_t psk[WIRE_KEY_LEN])
{
	struct stat st;
	struct err e = {""};
	uid_t me = geteuid();

	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			cfgchk_add(c, true, key,
				   "\"%s\": no such file (expected a "
				   "pre-shared key file; create one with "
				   "`tuntunctl genkey %s`)",
				   path, path);
		else
			cfgchk_add(c, true, key,
				   "\"%s\": %s (checked as uid %d)", path,
				   strerror(errno), (int)me);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		cfgchk_add(c, true, key,
			   "\"%s\" is not a regular file (expected a key file "
			   "written by `tuntunctl genkey`)",
			   path);
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != me) {
		cfgchk_add(c, true, key,
			   "\"%s\" is owned by uid %d; expected root or the "
			   "user starting the daemon (uid %d): chown it",
			   path, (int)st.st_uid, (int)me);
		return -1;
	}
	if (st.st_mode & 077) {
		cfgchk_add(c, true, key,
			   "\"%s\" has mode %04o; expected 0600 or stricter "
			   "(anyone who reads the key can join the tunnel): "
			   "chmod 600 %s",
			   path, (unsigned)(st.st_mode & 07777), path);
		return -1;
	}
	if (wire_key_load(path, psk, &e) < 0) {
		cfgchk_add(c, true, key, "%s", e.msg);
		return -1;
	}
	return 0;
}

void cfgchk_key_file(struct cfgchk *c, const char *key, const char *path)
{
	uint8_t psk[WIRE_KEY_LEN];
	(void)key_file(c, key, path, psk);
	sodium_memzero(psk, sizeof(psk));
}

void cfgchk_keys(struct cfgchk *c)
{
	const struct config *cfg = c->cfg;
	static uint8_t psk[CFG_MAX_CLIENTS][WIRE_KEY_LEN];
	bool ok[CFG_MAX_CLIENTS] = {false};
	char key[48];
	if (cfg->role == ROLE_CLIENT) {
		cfgchk_key_file(c, "key", cfg->key_file);
		return;
	}
	for (uint32_t i = 0; i < cfg->n_clients; i++) {
		snprintf(key, sizeof(key), "clients[%u].key", i);
		ok[i] = key_file(c, key, cfg->clients[i].key_file, psk[i]) == 0;
		/* The server refuses to start with a key shared by two. */
		for (uint32_t j = 0; ok[i] && j < i; j++) {
			if (!ok[j] ||
			    sodium_memcmp(psk[i], psk[j], WIRE_KEY_LEN))
				continue;
			cfgchk_add(c, true, key,
				   "\"%s\" holds the same key as clients[%u] "
				   "(%s); expected a key of its own for %s "
				   "(`tuntunctl genkey`)",
				   cfg->clients[i].key_file, j,
				   cfg->clients[j].name, cfg->clients[i].name);
			break;
		}
	}
	sodium_memzero(psk, sizeof(psk));
}

void cfgchk_user(struct cfgchk *c)
{
	const char *user = c->cfg->user;
	struct passwd pw;
	char *buf = NULL, miss[96];
	static const cap_value_t need[] = {CAP_SETUID, CAP_SETGID, CAP_SETPCAP};
	if (!user[0])
		return;
	int ret = nss_passwd_by_name(user, &pw, &buf);
	if (ret == -ENOENT) {
		cfgchk_add(c, true, "user",
			   "\"%s\": no such user (expected an existing "
			   "account such as nobody)",
			   user);
		return;
	}
	if (ret < 0) {
		cfgchk_add(c, true, "user", "\"%s\": %s", user, strerror(-ret));
		return;
	}
	uid_t uid = pw.pw_uid;
	free(buf);
	if (uid == 0) {
		cfgchk_add(c, true, "user",
			   "\"%s\" is root; expected an unprivileged account "
			   "such as nobody",
			   user);
		return;
	}
	if (geteuid() != 0) {
		if (geteuid() != uid)
			cfgchk_add(c, true, "user",
				   "switching to \"%s\" needs the daemon "
				   "started as root (checked as uid %d)",
				   user, (int)geteuid());
		return;
	}
	if (caps_missing(need, 3, miss, sizeof(miss))[0])
		cfgchk_add(c, true, "user",
			   "switching to \"%s\" needs %s, which this process "
			   "lacks (a systemd unit's CapabilityBoundingSet? "
			   "tuntuntun@.service already confines the daemon: "
			   "leave `user:` out there)",
			   user, miss);
}

static bool in_group(gid_t gid)
{
	gid_t groups[256];
	int n = getgroups(256, groups);
	if (getegid() == gid)
		return true;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* The directory a file will be created in ("." for a bare name). */
static void parent_dir(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, len, ".");
	else if (slash == path)
		snprintf(dir, len, "/");
	else
		snprintf(dir, len, "%.*s", (int)(slash - path), path);
}

/* The daemon's own rule for the directory of its control socket or its
 * state file (ctl/control.c, quota.c): nobody but its owner may write it,
 * or others could swap names in it under a root daemon. NULL if fine. */
static const char *dir_shared(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) < 0)
		return NULL; /* dir_problem() says why */
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return "is writable by group or others";
	return NULL;
}

/* What is wrong with dir as a place to create files in, or NULL. */
static const char *dir_problem(const char *dir, char *buf, size_t len)
{
	struct stat st;
	if (stat(dir, &st) < 0) {
		snprintf(buf, len, "%s",
			 errno == ENOENT ? "does not exist" : strerror(errno));
		return buf;
	}
	if (!S_ISDIR(st.st_mode))
		return "is not a directory";
	return NULL;
}

/* A socket path whose file is there: a live daemon answers, a stale socket
 * is removed at start, anything else is refused by the daemon. */
static void check_socket_file(struct cfgchk *c, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	if (lstat(path, &st) < 0)
		return;
	if (!S_ISSOCK(st.st_mode)) {
		cfgchk_add(c, true, "control.socket",
			   "\"%s\" exists and is not a socket; the daemon "
			   "will not replace it (expected a free path)",
			   path);
		return;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) /* config_load refuses it */
		return;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	int rc = connect(fd, (const struct sockaddr *)&sa, sizeof(sa));
	int err = rc < 0 ? errno : 0;
	close(fd);
	if (rc == 0 || err == EAGAIN)
		cfgchk_add(c, false, "control.socket",
			   "a daemon is listening on \"%s\": a second one "
			   "with this file would not start (fine when "
			   "checking before a reload)",
			   path);
}

void cfgchk_control(struct cfgchk *c)
{
	const struct cfg_control *ctl = &c->cfg->control;
	char dir[CFG_STR_MAX], why[96];
	const char *bad;
	static const cap_value_t chown_cap[] = {CAP_CHOWN};
	char miss[32];

	if (ctl->group[0]) {
		struct group gr;
		char *buf = NULL;
		int ret = nss_group_by_name(ctl->group, &gr, &buf);
		if (ret == -ENOENT)
			cfgchk_add(c, true, "control.group",
				   "\"%s\": no such group (expected an "
				   "existing group whose members may use "
				   "tuntunctl)",
				   ctl->group);
		else if (ret < 0)
			cfgchk_add(c, true, "control.group", "\"%s\": %s",
				   ctl->group, strerror(-ret));
		else {
			gid_t gid = gr.gr_gid;
			free(buf);
			if (ctl->socket[0] && !in_group(gid) &&
			    caps_missing(chown_cap, 1, miss, sizeof(miss))[0])
				cfgchk_add(c, true, "control.group",
					   "giving the socket to group \"%s\" "
					   "needs CAP_CHOWN, which this "
					   "process lacks (a systemd unit's "
					   "CapabilityBoundingSet?)",
					   ctl->group);
		}
	}
	if (!ctl->socket[0])
		return;
	const char *sock = ctl->socket;
	const char *how = cfgchk_locate(c, "control.socket", &(unsigned){0},
					&(unsigned){0}) == 0
			      ? ""
			      : " (the default)";
	parent_dir(sock, dir, sizeof(dir));
	if ((bad = dir_problem(dir, why, sizeof(why)))) {
		cfgchk_add(c, true, "control.socket",
			   "\"%s\"%s: directory \"%s\" %s (expected an "
			   "existing directory the daemon can write; under "
			   "tuntuntun@.service, /run/tuntuntun/)",
			   sock, how, dir, bad);
		return;
	}
	if ((bad = dir_shared(dir))) {
		cfgchk_add(c, true, "control.socket",
			   "\"%s\"%s: directory \"%s\" %s; the daemon creates "
			   "its socket only where nobody else can write (such "
			   "as /run/tuntuntun/)",
			   sock, how, dir, bad);
		return;
	}
	if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) < 0) {
		cfgchk_add(c, true, "control.socket",
			   "\"%s\"%s: cannot create it in \"%s\": %s (checked "
			   "as uid %d; under tuntuntun@.service only "
			   "/run/tuntuntun/ is writable)",
			   sock, how, dir, strerror(errno), (int)geteuid());
		return;
	}
	check_socket_file(c, sock);
}

void cfgchk_state_file(struct cfgchk *c)
{
	const char *path = c->cfg->state_file;
	char dir[CFG_STR_MAX], why[96];
	const char *bad;
	/* Only a client counts quota (quota.c). */
	if (!path[0] || c->cfg->role != ROLE_CLIENT)
		return;
	parent_dir(path, dir, sizeof(dir));
	if ((bad = dir_problem(dir, why, sizeof(why)))) {
		cfgchk_add(c, true, "state_file",
			   "\"%s\": directory \"%s\" %s (expected an existing "
			   "directory the daemon can write; under "
			   "tuntuntun@.service, /var/lib/tuntuntun/)",
			   path, dir, bad);
		return;
	}
	if ((bad = dir_shared(dir))) {
		cfgchk_add(c, true, "state_file",
			   "\"%s\": directory \"%s\" %s; the daemon keeps its "
			   "counters only where nobody else can write (such as "
			   "/var/lib/tuntuntun/)",
			   path, dir, bad);
		return;
	}
	/* Saved as FILE.tmp then renamed: the directory must be writable. */
	if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) < 0) {
		cfgchk_add(c, true, "state_file",
			   "\"%s\": cannot write in \"%s\": %s (checked as uid "
			   "%d)",
			   path, dir, strerror(errno), (int)geteuid());
		return;
	}
	if (access(path, F_OK) < 0)
		return; /* created at the first save */
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	/* The daemon still starts (it takes FILE.bak, or counts the period
	 * as used up), so this is a warning. */
	if (!json_is_object(j))
		cfgchk_add(c, false, "state_file",
			   "\"%s\":%d: %s (expected the JSON quota counters "
			   "the daemon writes; it will use %s.bak or count "
			   "this period as used up)",
			   path, je.line, j ? "not a JSON object" : je.text,
			   path);
	json_decref(j);
}

void cfgchk_interfaces(struct cfgchk *c)
{
	char key[48];
	for (uint32_t i = 0; i < c->cfg->n_links; i++) {
		const char *ifn = c->cfg->links[i].interface;
		if (!ifn[0] || if_nametoindex(ifn) != 0)
			continue;
		snprintf(key, sizeof(key), "links[%u].interface", i);
		cfgchk_add(c, false, key,
			   "\"%s\": no such interface now; link %s stays down "
			   "until it appears",
			   ifn, c->cfg->links[i].name);
	}
}

/* bind() of a throw-away UDP socket, as the daemon will bind: 0 or errno.
 * Nothing is sent; the socket is closed at once. */
static int try_bind(const struct cfg_sockaddr *a)
{
	int fd = socket(a->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int err = 0;
	if (fd < 0)
		return errno;
	if (a->ss.ss_family == AF_INET6) {
		int off = 0; /* as the server's listener: "::" takes IPv4 too */
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off,
				 sizeof(off));
	}
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0)
		err = errno;
	close(fd);
	return err;
}

void cfgchk_addresses(struct cfgchk *c)
{
	const struct config *cfg = c->cfg;
	char a[INET6_ADDRSTRLEN + 16], key[48];
	if (cfg->role == ROLE_SERVER) {
		int err = try_bind(&cfg->listen);
		sockaddr_str(&cfg->listen.ss, a, sizeof(a));
		if (err == EADDRINUSE)
			cfgchk_add(c, false, "listen",
				   "%s is in use (another daemon? fine when "
				   "checking before a reload)",
				   a);
		else if (err == EADDRNOTAVAIL)
			cfgchk_add(c, true, "listen.address",
				   "%s: not an address of this machine "
				   "(expected one of its addresses, or 0.0.0.0 "
				   "or \"::\" for all)",
				   a);
		else if (err)
			cfgchk_add(c, true, "listen", "cannot listen on %s: %s",
				   a, strerror(err));
	}
	for (uint32_t i = 0; i < cfg->n_links; i++) {
		const struct cfg_link *l = &cfg->links[i];
		if (l->source.ss.ss_family == AF_UNSPEC)
			continue;
		/* Port 0 unless one is given: only the address is at stake. */
		if (try_bind(&l->source) != EADDRNOTAVAIL)
			continue;
		snprintf(key, sizeof(key), "links[%u].source", i);
		const void *ip =
		    l->source.ss.ss_family == AF_INET
			? (const void *)&(
			      (const struct sockaddr_in *)&l->source.ss)
			      ->sin_addr
			: (const void *)&(
			      (const struct sockaddr_in6 *)&l->source.ss)
			      ->sin6_addr;
		if (!inet_ntop(l->source.ss.ss_family, ip, a, sizeof(a)))
			snprintf(a, sizeof(a), "?");
		cfgchk_add(c, false, key,
			   "%s is not an address of this machine now; link %s "
			   "stays down until it is",
			   a, l->name);
	}
}

/* tun.name: free, or a tun device (a persistent one is reused). */
void cfgchk_tun(struct cfgchk *c)
{
	const char *name = c->cfg->tun.name;
	char path[64];
	struct stat st;
	if (if_nametoindex(name) == 0)
		return;
	snprintf(path, sizeof(path), "/sys/class/net/%s/tun_flags", name);
	if (stat(path, &st) == 0)
		cfgchk_add(c, false, "tun.name",
			   "\"%s\" exists already (another daemon? fine when "
			   "checking before a reload)",
			   name);
	else
		cfgchk_add(c, true, "tun.name",
			   "\"%s\" is an existing interface that is not a tun "
			   "device (expected a free name such as ttt0)",
			   name);
}

void cfgchk_cipher(struct cfgchk *c)
{
	if (c->cfg->cipher == CFG_CIPHER_AES256GCM &&
	    !(wire_ciphers_local() & WIRE_CIPHERS_AES256GCM))
		cfgchk_add(c, true, "cipher",
			   "\"aes-256-gcm\" needs hardware AES, which this CPU "
			   "lacks (expected auto or chacha20-poly1305)");
}

/* A secret file of http: as monitor.c reads it: its first line. */
static void http_secret(struct cfgchk *c, const char *key, const char *path)
{
	struct stat st;
	char buf[CFG_STR_MAX];
	if (!path[0])
		return;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cfgchk_add(c, true, key, "\"%s\": %s (checked as uid %d)", path,
			   strerror(errno), (int)geteuid());
		return;
	}
	ssize_t n = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		cfgchk_add(c, true, key,
			   "\"%s\" is not a readable regular file (expected "
			   "a file whose first line is the secret)",
			   path);
		return;
	}
	buf[n] = 0;
	buf[strcspn(buf, "\r\n")] = 0;
	if (strspn(buf, " \t") == strlen(buf))
		cfgchk_add(c, true, key,
			   "\"%s\": the first line is empty (expected the "
			   "secret on it)",
			   path);
	else if (st.st_mode & 077)
		cfgchk_add(c, false, key,
			   "\"%s\" has mode %04o: group or others can read "
			   "the secret (chmod 600 %s)",
			   path, (unsigned)(st.st_mode & 07777), path);
}

void cfgchk_http(struct cfgchk *c)
{
	const struct cfg_http *h = &c->cfg->http;
	char a[INET6_ADDRSTRLEN + 16];
	if (!h->enabled)
		return;
	http_secret(c, "http.token_file", h->token_file);
	http_secret(c, "http.password_file", h->password_file);
	int one = 1, err = 0;
	int fd = socket(h->listen.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)&h->listen.ss, h->listen.len) < 0)
		err = errno;
	if (fd >= 0)
		close(fd);
	sockaddr_str(&h->listen.ss, a, sizeof(a));
	if (err == EADDRINUSE)
		cfgchk_add(c, false, "http.listen",
			   "%s is in use (another daemon? fine when checking "
			   "before a restart)",
			   a);
	else if (err == EADDRNOTAVAIL)
		cfgchk_add(c, true, "http.listen",
			   "%s: not an address of this machine", a);
	else if (err)
		cfgchk_add(c, true, "http.listen", "cannot listen on %s: %s", a,
			   strerror(err));
}

void cfgchk_all(struct cfgchk *c)
{
	cfgchk_keys(c);
	cfgchk_cipher(c);
	cfgchk_tun(c);
	cfgchk_addresses(c);
	cfgchk_interfaces(c);
	cfgchk_control(c);
	cfgchk_state_file(c);
	cfgchk_http(c);
	cfgchk_user(c);
}
