/*
 * Telling systemd how the daemon is doing (sd_notify(3)): READY=1 once the
 * tunnel is set up, a one-line STATUS= that `systemctl status` shows,
 * RELOADING=1/READY=1 around a SIGHUP re-read, STOPPING=1 on shutdown.
 *
 * libsystemd is optional at build time (TTT_HAVE_LIBSYSTEMD, set by the
 * Makefile when pkg-config finds it); without it, or when the daemon is not
 * run by systemd ($NOTIFY_SOCKET unset), every call does nothing.
 */
#ifndef TTT_SDNOTIFY_H
#define TTT_SDNOTIFY_H

#include <stdbool.h>

/* Whether this build talks to systemd at all. */
bool sdnotify_built_in(void);
/* READY=1 with the first STATUS= line. */
void sdnotify_ready(const char *status);
/* STATUS=: sent only when it differs from the last one sent, so callers may
 * call it on every event. */
void sdnotify_status(const char *status);
/* RELOADING=1 (with MONOTONIC_USEC=, as systemd 253+ expects); follow with
 * sdnotify_ready() when the reload is done, whatever its outcome. */
void sdnotify_reloading(void);
/* STOPPING=1. */
void sdnotify_stopping(void);

#endif
