/*
 * Hooks: a command run on each link and session event (`hooks:` in YAML),
 * like MLVPN's statuscommand, so a user can update a status LED, a routing
 * table or a notification without polling tuntunctl.
 *
 * What a hook may never do is stall the tunnel, so nothing here waits:
 *   - the command was split into argv when the config was read
 *     (os/hookcmd.h: no shell, so no quoting surprises and no injection
 *     from a link name), and is started with posix_spawn in its own
 *     process group, stdin from /dev/null, stdout and stderr the daemon's;
 *   - the event goes in the environment: TTT_EVENT (link_up, link_down,
 *     session_up, session_down), TTT_ROLE (client|server), TTT_LINK and
 *     TTT_LINK_ID (link events), TTT_LINK_STATE, TTT_CLIENT (server: the
 *     client's name), TTT_SESSION (hex id), TTT_PEER (the link's far end),
 *     TTT_TUN, TTT_CONFIG; the rest of the daemon's environment is kept;
 *   - libev's child watcher reaps it and logs a failure; a timer kills its
 *     process group after hooks.timeout;
 *   - at most hooks.max_running run at once; later events wait in a queue
 *     of HOOK_QUEUE, and one that finds the queue full is dropped and
 *     counted (logged with the next hook that starts).
 * Hooks run with the daemon's rights after `user:` (no root then).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "daemon.h"
#include "link/addr.h"
#include "os/hookcmd.h"

extern char **environ;

#define HOOK_QUEUE    32
#define HOOK_ENV_MAX  16 /* TTT_* variables */
#define HOOK_RUN_MAX  64 /* >= hooks.max_running's bound */
#define HOOK_VAR_SIZE 160

struct hook_event {
	int event; /* enum cfg_hook_event */
	char env[HOOK_ENV_MAX][HOOK_VAR_SIZE];
	int n_env;
};

struct hook_job {
	struct hooks *h;
	bool used;
	pid_t pid;
	int event;
	ev_child child;
	ev_timer timeout;
};

struct hooks {
	struct daemon *d;
	/* argv per event, split once at start */
	char buf[CFG_HOOK_NEVENTS][CFG_STR_MAX];
	char *argv[CFG_HOOK_NEVENTS][HOOKCMD_MAX_ARGS + 1];
	struct hook_job run[HOOK_RUN_MAX];
	unsigned running;
	struct hook_event queue[HOOK_QUEUE];
	unsigned qhead, qlen;
	uint64_t dropped, started, failed, killed;
};

static const char *const event_names[CFG_HOOK_NEVENTS] = {
    [CFG_HOOK_LINK_UP] = "link_up",
    [CFG_HOOK_LINK_DOWN] = "link_down",
    [CFG_HOOK_SESSION_UP] = "session_up",
    [CFG_HOOK_SESSION_DOWN] = "session_down",
};

const char *hooks_event_name(int event)
{
	return event >= 0 && event < CFG_HOOK_NEVENTS ? event_names[event]
						      : "?";
}

int hooks_init(struct daemon *d, struct err *e)
{
	bool any = false;
	for (int i = 0; i < CFG_HOOK_NEVENTS; i++)
		any |= d->cfg.hooks.cmd[i][0] != 0;
	if (!any)
		return 0;
	struct hooks *h = calloc(1, sizeof(*h));
	if (!h)
		return err_set(e, -ENOMEM, "out of memory");
	h->d = d;
	for (int i = 0; i < CFG_HOOK_NEVENTS; i++) {
		if (!d->cfg.hooks.cmd[i][0])
			continue;
		int n = hookcmd_split(d->cfg.hooks.cmd[i], h->buf[i],
				      sizeof(h->buf[i]), h->argv[i],
				      HOOKCMD_MAX_ARGS + 1, e);
		if (n < 0) {
			free(h);
			return n; /* the config check said so already */
		}
	}
	d->hooks = h;
	return 0;
}

static void job_done(struct hook_job *j)
{
	struct hooks *h = j->h;
	ev_child_stop(h->d->loop, &j->child);
	ev_timer_stop(h->d->loop, &j->timeout);
	j->used = false;
	h->running--;
}

static void start_next(struct hooks *h);

static void child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct hook_job *j = w->data;
	int st = w->rstatus;
	const char *ev = hooks_event_name(j->event);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		log_debug("hooks", "%s hook (pid %d) done", ev, (int)j->pid);
	} else if (WIFEXITED(st)) {
		j->h->failed++;
		log_warn("hooks", "%s hook %s exited with status %d", ev,
			 j->h->argv[j->event][0], WEXITSTATUS(st));
	} else if (WIFSIGNALED(st)) {
		j->h->failed++;
		log_warn("hooks", "%s hook %s killed by signal %d", ev,
			 j->h->argv[j->event][0], WTERMSIG(st));
	}
	job_done(j);
	start_next(j->h);
}

static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct hook_job *j = w->data;
	j->h->killed++;
	log_warn("hooks",
		 "%s hook %s (pid %d) still running after %u ms: killing it",
		 hooks_event_name(j->event), j->h->argv[j->event][0],
		 (int)j->pid, j->h->d->cfg.hooks.timeout_ms);
	/* Its own process group: whatever it started goes too. The child
	 * watcher reaps it and frees the slot. */
	if (kill(-j->pid, SIGKILL) < 0 && kill(j->pid, SIGKILL) < 0)
		log_debug("hooks", "kill %d: %s", (int)j->pid, strerror(errno));
}

/* The daemon's environment minus any TTT_* it had, plus the event's. */
static char **build_env(const struct hook_event *ev)
{
	size_t n = 0;
	for (char **p = environ; p && *p; p++)
		n++;
	char **env = calloc(n + (size_t)ev->n_env + 1, sizeof(*env));
	if (!env)
		return NULL;
	size_t k = 0;
	for (char **p = environ; p && *p; p++)
		if (strncmp(*p, "TTT_", 4) != 0)
			env[k++] = *p;
	for (int i = 0; i < ev->n_env; i++)
		env[k++] = (char *)ev->env[i];
	env[k] = NULL;
	return env;
}

/* Starts ev's command in a free slot. Returns 0, or -errno (logged). */
static int spawn(struct hooks *h, const struct hook_event *ev)
{
	struct hook_job *j = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	pid_t pid;
	int ret;

	for (unsigned i = 0; i < HOOK_RUN_MAX && !j; i++)
		if (!h->run[i].used)
			j = &h->run[i];
	if (!j)
		return -EBUSY;
	char **env = build_env(ev);
	if (!env)
		return -ENOMEM;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
					  POSIX_SPAWN_SETSIGDEF |
					  POSIX_SPAWN_SETPGROUP);
	char *const *argv = h->argv[ev->event];
	ret = posix_spawn(&pid, argv[0], &fa, &at, argv, env);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	if (ret != 0) {
		h->failed++;
		log_warn("hooks", "%s hook %s: cannot start: %s",
			 hooks_event_name(ev->event), argv[0], strerror(ret));
		return -ret;
	}
	j->h = h;
	j->used = true;
	j->pid = pid;
	j->event = ev->event;
	ev_child_init(&j->child, child_cb, pid, 0);
	j->child.data = j;
	ev_child_start(h->d->loop, &j->child);
	ev_timer_init(&j->timeout, timeout_cb,
		      h->d->cfg.hooks.timeout_ms / 1000.0, 0.0);
	j->timeout.data = j;
	ev_timer_start(h->d->loop, &j->timeout);
	h->running++;
	h->started++;
	log_debug("hooks", "%s hook started (pid %d)",
		  hooks_event_name(ev->event), (int)pid);
	return 0;
}

static void start_next(struct hooks *h)
{
	while (h->qlen && h->running < h->d->cfg.hooks.max_running) {
		struct hook_event *ev = &h->queue[h->qhead];
		h->qhead = (h->qhead + 1) % HOOK_QUEUE;
		h->qlen--;
		if (spawn(h, ev) == -EBUSY)
			break;
	}
	if (h->dropped) {
		log_warn("hooks",
			 "%llu hook event%s dropped: the queue of %d was full "
			 "(hooks slower than events)",
			 (unsigned long long)h->dropped,
			 h->dropped == 1 ? "" : "s", HOOK_QUEUE);
		h->dropped = 0;
	}
}

static void add_env(struct hook_event *ev, const char *name, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

static void add_env(struct hook_event *ev, const char *name, const char *fmt,
		    ...)
{
	va_list ap;
	if (ev->n_env >= HOOK_ENV_MAX)
		return;
	char *v = ev->env[ev->n_env++];
	int off = snprintf(v, HOOK_VAR_SIZE, "%s=", name);
	va_start(ap, fmt);
	vsnprintf(v + off, HOOK_VAR_SIZE - (size_t)off, fmt, ap);
	va_end(ap);
}

void hooks_fire(struct daemon *d, int event, const struct session *s,
		const struct path *p)
{
	struct hooks *h = d->hooks;
	char a[80];
	if (!h || event < 0 || event >= CFG_HOOK_NEVENTS ||
	    !d->cfg.hooks.cmd[event][0])
		return;
	if (h->qlen == HOOK_QUEUE) {
		h->dropped++;
		return;
	}
	struct hook_event *ev = &h->queue[(h->qhead + h->qlen) % HOOK_QUEUE];
	memset(ev, 0, sizeof(*ev));
	ev->event = event;
	add_env(ev, "TTT_EVENT", "%s", event_names[event]);
	add_env(ev, "TTT_ROLE", "%s", d->client ? "client" : "server");
	add_env(ev, "TTT_TUN", "%s", d->tun_name);
	add_env(ev, "TTT_CONFIG", "%s", d->cfg.path);
	if (s) {
		add_env(ev, "TTT_SESSION", "%08x", s->id);
		if (s->client_idx >= 0)
			add_env(ev, "TTT_CLIENT", "%s",
				d->cfg.clients[s->client_idx].name);
	}
	if (p) {
		add_env(ev, "TTT_LINK", "%s", p->name);
		add_env(ev, "TTT_LINK_ID", "%u", p->id);
		add_env(ev, "TTT_LINK_STATE", "%s",
			link_state_name(p->last_state));
		if (p->peer_len)
			add_env(ev, "TTT_PEER", "%s",
				sockaddr_str(&p->peer, a, sizeof(a)));
	}
	h->qlen++;
	start_next(h);
}

void hooks_teardown(struct daemon *d)
{
	struct hooks *h = d->hooks;
	if (!h)
		return;
	/* A hook still running is told to stop; nobody waits for it (the
	 * daemon is going away, and init reaps orphans). */
	for (unsigned i = 0; i < HOOK_RUN_MAX; i++) {
		struct hook_job *j = &h->run[i];
		if (!j->used)
			continue;
		if (kill(-j->pid, SIGTERM) < 0)
			(void)kill(j->pid, SIGTERM);
		job_done(j);
	}
	free(h);
	d->hooks = NULL;
}
