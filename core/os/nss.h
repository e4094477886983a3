/*
 * User and group look-ups through NSS (getpwnam_r and friends). The _r
 * functions need a caller buffer whose size is only known by trying; this
 * is the one place that retries with a larger one.
 */
#ifndef TTT_NSS_H
#define TTT_NSS_H

#include <grp.h>
#include <pwd.h>
#include <sys/types.h>

/* Fill *pw / *gr. On success *buf holds the strings they point into:
 * free(*buf) when done. Return 0, -ENOENT (no such entry), -ENOMEM or the
 * NSS error as -errno. */
int nss_passwd_by_name(const char *name, struct passwd *pw, char **buf);
int nss_passwd_by_uid(uid_t uid, struct passwd *pw, char **buf);
int nss_group_by_name(const char *name, struct group *gr, char **buf);

#endif
