/*
 * `tuntuntun -n`: checks what a loaded configuration points at, without
 * starting anything, so that what would fail at start fails here first
 * (like `nginx -t`, `sshd -t`): key files, accounts, the control socket's
 * directory, the quota state file, named interfaces and addresses, the
 * tun name, the cipher, the HTTP listener's secret files and address. The
 * plugins are checked by the spine (core/confcheck.c), which can create
 * scheduler instances.
 *
 * Every finding is one message in the style of config_load()'s errors,
 *   FILE:LINE:COL: KEY: what is wrong, quoting the value; what was expected
 * with the position of the key's value in the file when it is there
 * (FILE: KEY (default VALUE): ... when the default is at fault). All
 * findings are collected, not only the first; warnings (an interface that
 * may appear later, a daemon already listening) do not fail the check.
 */
#ifndef TTT_CONFIG_CHECK_H
#define TTT_CONFIG_CHECK_H

#include <stdarg.h>
#include <stdbool.h>

#include "conf/config.h"

#define CFGCHK_MAX_MSGS 64
#define CFGCHK_MSG_LEN	1024

struct cfgchk_msg {
	bool error; /* false: a warning */
	char text[CFGCHK_MSG_LEN];
};

struct cfgchk {
	const struct config *cfg;
	void *doc; /* the file re-parsed for positions (yaml_document_t), or
		      NULL when it cannot be re-read: messages then say
		      FILE: KEY: without a position */
	unsigned n_errors, n_warnings, n_msgs;
	struct cfgchk_msg msgs[CFGCHK_MAX_MSGS]; /* past the last: counted */
};

/* Starts a check of cfg (loaded by config_load() from cfg->path). 0 or
 * -ENOMEM; a file that cannot be re-parsed only loses positions. */
int cfgchk_open(struct cfgchk *c, const struct config *cfg);
void cfgchk_close(struct cfgchk *c);

/* Records a finding about KEY (a path as in config errors: "user",
 * "clients[1].key", "scheduler.upstream.plugin"). */
void cfgchk_add(struct cfgchk *c, bool error, const char *key, const char *fmt,
		...) __attribute__((format(printf, 4, 5)));

/* 1-based line and column of KEY's value in the file: 0, or -ENOENT when
 * the key is not in the file (its default applies). */
int cfgchk_locate(const struct cfgchk *c, const char *key, unsigned *line,
		  unsigned *col);

/* A pre-shared key file: exists, regular, owned by root or the effective
 * user, mode 0600 or stricter, readable, one base64 32-byte key. */
void cfgchk_key_file(struct cfgchk *c, const char *key, const char *path);

/* Every check of this file, in the order of the YAML reference. */
void cfgchk_keys(struct cfgchk *c);    /* key, clients[].key */
void cfgchk_user(struct cfgchk *c);    /* user: exists, not root, can switch */
void cfgchk_control(struct cfgchk *c); /* control.socket dir, control.group */
void cfgchk_state_file(struct cfgchk *c); /* client: dir writable, file JSON */
void cfgchk_interfaces(struct cfgchk *c); /* links[].interface (warnings) */
void cfgchk_cipher(struct cfgchk *c);	  /* aes-256-gcm needs hardware AES */
void cfgchk_tun(struct cfgchk *c);	  /* tun.name free or a tun device */
/* server: listen bindable (in use: warning); client: links[].source an
 * address of this machine (warning: DHCP may bring it later) */
void cfgchk_addresses(struct cfgchk *c);
/* http: token_file / password_file readable with a non-empty first line
 * (group/other-readable: warning), listen bindable (in use: warning) */
void cfgchk_http(struct cfgchk *c);
void cfgchk_all(struct cfgchk *c);

#endif
