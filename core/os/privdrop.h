/*
 * Least privilege: once the tun, the sockets and the control socket exist,
 * the daemon becomes the unprivileged `user:` from its YAML and keeps only
 * CAP_NET_ADMIN and CAP_NET_RAW, which link recovery needs to re-create
 * uplink sockets pinned with SO_BINDTODEVICE and to restore routes on exit.
 */
#ifndef TTT_PRIVDROP_H
#define TTT_PRIVDROP_H

#include <stdbool.h>

#include "base/err.h"

/*
 * Switches to `user` (its primary group, no supplementary groups) keeping
 * only CAP_NET_ADMIN and CAP_NET_RAW in the permitted, effective and
 * bounding sets. `user` "" does nothing. Must run as root (-EPERM with a
 * message otherwise, unless we already are that user). Returns 0 or -errno
 * with e set; on failure the process may be half-dropped and must exit.
 */
int privdrop_to_user(const char *user, struct err *e);

/* True once privdrop_to_user() dropped root in this process. */
bool privdrop_done(void);

#endif
