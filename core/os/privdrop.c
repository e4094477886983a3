/*
 * Dropping root after setup (see privdrop.h for what and why).
 *
 * Order matters: PR_SET_KEEPCAPS first so setuid() keeps the permitted
 * set, the bounding set trimmed while CAP_SETPCAP is still ours, groups
 * before the gid before the uid (each step needs the privilege the next one
 * removes), then libcap raises exactly the two kept capabilities into the
 * effective set, which setuid() cleared. Finally we prove root cannot come
 * back: setuid(0) must fail.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "base/log.h"
#include "os/nss.h"
#include "os/privdrop.h"

static const cap_value_t kept_caps[] = {CAP_NET_ADMIN, CAP_NET_RAW};
#define N_KEPT (sizeof(kept_caps) / sizeof(kept_caps[0]))

static bool dropped;

bool privdrop_done(void)
{
	return dropped;
}

static bool is_kept(cap_value_t c)
{
	for (size_t i = 0; i < N_KEPT; i++)
		if (kept_caps[i] == c)
			return true;
	return false;
}

/* Looks `name` up in the passwd database into *uid / *gid. */
static int lookup_user(const char *name, uid_t *uid, gid_t *gid, struct err *e)
{
	struct passwd pw;
	char *buf = NULL;
	int ret = nss_passwd_by_name(name, &pw, &buf);
	if (ret == -ENOENT)
		return err_set(e, ret,
			       "user \"%s\": no such user (expected an "
			       "existing account such as nobody)",
			       name);
	if (ret < 0)
		return err_set(e, ret, "user \"%s\": %s", name, strerror(-ret));
	*uid = pw.pw_uid;
	*gid = pw.pw_gid;
	free(buf);
	return 0;
}

/* Leaves only the kept capabilities in the bounding set, so not even a
 * setuid-root binary exec'd later could get the others back. */
static int trim_bounding_set(struct err *e)
{
	for (cap_value_t c = 0; CAP_IS_SUPPORTED(c); c++) {
		/* Already gone (e.g. a systemd CapabilityBoundingSet=): no
		 * need for CAP_SETPCAP to drop it again. */
		if (is_kept(c) || cap_get_bound(c) == 0)
			continue;
		if (cap_drop_bound(c) < 0)
			return err_set(e, -errno,
				       "cannot drop capability %d from the "
				       "bounding set: %s",
				       (int)c, strerror(errno));
	}
	return 0;
}

/* Permitted and effective = the kept ones, inheritable empty. */
static int set_kept_caps(struct err *e)
{
	int ret = 0;
	cap_t caps = cap_init();
	if (!caps)
		return err_set(e, -errno, "cap_init: %s", strerror(errno));
	if (cap_set_flag(caps, CAP_PERMITTED, N_KEPT, kept_caps, CAP_SET) < 0 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, N_KEPT, kept_caps, CAP_SET) < 0 ||
	    cap_set_proc(caps) < 0)
		ret = err_set(e, -errno,
			      "cannot keep CAP_NET_ADMIN and CAP_NET_RAW: %s",
			      strerror(errno));
	if (cap_free(caps) < 0)
		log_debug("privdrop", "cap_free: %s", strerror(errno));
	return ret;
}

int privdrop_to_user(const char *user, struct err *e)
{
	uid_t uid = 0;
	gid_t gid = 0;
	int ret;

	if (!user || !user[0])
		return 0;
	if ((ret = lookup_user(user, &uid, &gid, e)) < 0)
		return ret;
	if (geteuid() != 0) {
		if (geteuid() == uid && getuid() == uid)
			return 0; /* started as that user already */
		return err_set(e, -EPERM,
			       "user: %s needs the daemon started as root "
			       "(running as uid %d)",
			       user, (int)geteuid());
	}
	if (uid == 0)
		return err_set(e, -EINVAL,
			       "user: %s is root; name an unprivileged "
			       "account such as nobody",
			       user);
	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) < 0)
		return err_set(e, -errno, "PR_SET_KEEPCAPS: %s",
			       strerror(errno));
	if ((ret = trim_bounding_set(e)) < 0)
		return ret;
	if (setgroups(1, &gid) < 0)
		return err_set(e, -errno, "setgroups(%d): %s", (int)gid,
			       strerror(errno));
	if (setresgid(gid, gid, gid) < 0)
		return err_set(e, -errno, "setresgid(%d): %s", (int)gid,
			       strerror(errno));
	if (setresuid(uid, uid, uid) < 0)
		return err_set(e, -errno, "setresuid(%d): %s", (int)uid,
			       strerror(errno));
	dropped = true;
	if ((ret = set_kept_caps(e)) < 0)
		return ret;
	if (prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L) < 0)
		return err_set(e, -errno, "PR_SET_KEEPCAPS off: %s",
			       strerror(errno));
	/* Nothing we run may gain privileges back (setuid binaries, file
	 * capabilities). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0)
		return err_set(e, -errno, "PR_SET_NO_NEW_PRIVS: %s",
			       strerror(errno));
	if (setuid(0) == 0 || seteuid(0) == 0)
		return err_set(e, -EPERM,
			       "still able to become root after dropping to "
			       "%s; refusing to run",
			       user);
	log_notice("privdrop",
		   "running as %s (uid %d, gid %d) with CAP_NET_ADMIN and "
		   "CAP_NET_RAW only",
		   user, (int)uid, (int)gid);
	return 0;
}
