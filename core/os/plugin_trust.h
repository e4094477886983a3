/*
 * Plugins run inside the daemon with all its rights, so a root daemon must
 * only load code that only root could have put there: the file and every
 * directory above it owned by root and not writable by group or others
 * (a root-owned sticky directory such as /tmp may sit above it, since
 * nobody else can rename or remove its root-owned entries).
 */
#ifndef TTT_PLUGIN_TRUST_H
#define TTT_PLUGIN_TRUST_H

#include <stdbool.h>
#include <sys/stat.h>

#include "base/err.h"

/*
 * Checks the plugin at `path`, already opened and fstat'ed into *st (the
 * object that will be loaded). Enforced while the process is root or has
 * dropped root (privdrop); an ordinary user's daemon may load its own files.
 * Returns 0, or -EPERM with a message naming the file or directory and why.
 */
int plugin_trust_check(const char *path, const struct stat *st, struct err *e);

/*
 * The rule for one object already opened and fstat'ed (a file, or with
 * is_dir a directory, where root-owned sticky is accepted): no path walk.
 * What it names is only used in the message. 0 when the rule does not
 * apply to this process.
 */
int plugin_trust_check_stat(const char *what, const struct stat *st,
			    bool is_dir, struct err *e);

/* Same rule for one directory path and each directory above it. */
int plugin_trust_check_dir(const char *dir, struct err *e);

/* Whether the rule applies to this process (root, or root dropped). */
bool plugin_trust_enforced(void);

#endif
