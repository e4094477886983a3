/*
 * A hook command line split into argv without a shell, so a hook's string
 * in YAML can never be made to run something else by what is in it (link
 * names, addresses and the like go in the environment, never the command).
 *
 * Quoting, the subset of POSIX sh that people type:
 *   - words are separated by spaces or tabs;
 *   - '...' is literal (no escapes inside);
 *   - "..." keeps spaces; inside it \" and \\ stand for " and \, any other
 *     backslash is kept as it is;
 *   - outside quotes a backslash makes the next character literal;
 *   - quotes join with what touches them: a"b c"d is one word, ab cd.
 * Nothing else is special: no $VAR, ~, globs, ;, |, > or backquotes (they
 * are ordinary characters). The first word must be an absolute path, as
 * the daemon's PATH and working directory are not the user's.
 */
#ifndef TTT_HOOKCMD_H
#define TTT_HOOKCMD_H

#include <stddef.h>

#include "base/err.h"

#define HOOKCMD_MAX_ARGS 32

/*
 * Splits `cmd` into argv[0..n-1] (argv[n] = NULL), the words stored in
 * buf (bufsz bytes; strlen(cmd) + 1 always suffices). Returns n >= 1, or
 * -EINVAL with a message for an empty command, an unclosed quote, a
 * trailing backslash, more than max - 1 words, or a first word that is
 * not an absolute path; -ENOSPC when buf is too small.
 */
int hookcmd_split(const char *cmd, char *buf, size_t bufsz, char **argv,
		  int max, struct err *e);

#endif
