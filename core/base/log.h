/*
 * Levelled logging with a subsystem tag, to stderr or syslog. One line per
 * event; the level filter is global because the daemon is single-threaded.
 */
#ifndef TTT_LOG_H
#define TTT_LOG_H

#include <stddef.h>
#include <syslog.h>

/* Levels are syslog's: LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG.
 * Without use_syslog, lines go to stderr: time-stamped, or "<N>"-prefixed
 * and without time stamp when $JOURNAL_STREAM says stderr is the journal
 * (checked here, once). */
void log_init(const char *ident, int level, int use_syslog);
void log_set_level(int level);
int log_get_level(void);
/* Parses "error", "warning", "notice", "info", "debug"; -1 if unknown. */
int log_level_from_name(const char *name);

void log_msg(int level, const char *subsys, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * A peer-supplied string made safe to log: printable ASCII except '\\' and
 * '"' is kept, every other byte becomes \xNN, and what does not fit in buf
 * ends in "...". Always NUL-terminates (len >= 8). Returns buf, so it can
 * sit in a log call's arguments.
 */
const char *log_esc(const char *in, char *buf, size_t len);
/* Room for an escaped name of up to 31 bytes. */
#define LOG_ESC_NAME 132

#define log_err(sub, ...)    log_msg(LOG_ERR, sub, __VA_ARGS__)
#define log_warn(sub, ...)   log_msg(LOG_WARNING, sub, __VA_ARGS__)
#define log_notice(sub, ...) log_msg(LOG_NOTICE, sub, __VA_ARGS__)
#define log_info(sub, ...)   log_msg(LOG_INFO, sub, __VA_ARGS__)
/* Debug lines cost one branch when disabled: the hot path may use them. */
#define log_debug(sub, ...)                                                    \
	do {                                                                   \
		if (log_get_level() >= LOG_DEBUG)                              \
			log_msg(LOG_DEBUG, sub, __VA_ARGS__);                  \
	} while (0)

#endif
