/* NSS look-ups with the grow-and-retry buffer dance done once. */
#include "os/nss.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

typedef int (*nss_call)(const void *key, void *ent, char *buf, size_t len,
			void **res);

static int call_pwnam(const void *key, void *ent, char *buf, size_t len,
		      void **res)
{
	struct passwd *r = NULL;
	int rc = getpwnam_r(key, ent, buf, len, &r);
	*res = r;
	return rc;
}

static int call_pwuid(const void *key, void *ent, char *buf, size_t len,
		      void **res)
{
	struct passwd *r = NULL;
	int rc = getpwuid_r(*(const uid_t *)key, ent, buf, len, &r);
	*res = r;
	return rc;
}

static int call_grnam(const void *key, void *ent, char *buf, size_t len,
		      void **res)
{
	struct group *r = NULL;
	int rc = getgrnam_r(key, ent, buf, len, &r);
	*res = r;
	return rc;
}

/* Doubles the buffer on ERANGE up to 1 MiB, as glibc documents. */
static int nss_lookup(nss_call fn, const void *key, void *ent, int size_hint,
		      char **bufp)
{
	long sz = sysconf(size_hint);
	size_t len = sz > 0 ? (size_t)sz : 16384;
	char *buf = NULL;
	void *res = NULL;
	int rc;
	for (;;) {
		char *p = realloc(buf, len);
		if (!p) {
			free(buf);
			return -ENOMEM;
		}
		buf = p;
		rc = fn(key, ent, buf, len, &res);
		if (rc != ERANGE || len > (1u << 20))
			break;
		len *= 2;
	}
	if (rc != 0 || !res) {
		free(buf);
		return rc ? -rc : -ENOENT;
	}
	*bufp = buf;
	return 0;
}

int nss_passwd_by_name(const char *name, struct passwd *pw, char **buf)
{
	return nss_lookup(call_pwnam, name, pw, _SC_GETPW_R_SIZE_MAX, buf);
}

int nss_passwd_by_uid(uid_t uid, struct passwd *pw, char **buf)
{
	return nss_lookup(call_pwuid, &uid, pw, _SC_GETPW_R_SIZE_MAX, buf);
}

int nss_group_by_name(const char *name, struct group *gr, char **buf)
{
	return nss_lookup(call_grnam, name, gr, _SC_GETGR_R_SIZE_MAX, buf);
}
