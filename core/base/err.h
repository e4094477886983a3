/*
 * Error reporting convention: functions return 0 or a negative errno and, on
 * failure, leave a human-readable message in a caller-provided struct err.
 */
#ifndef TTT_ERR_H
#define TTT_ERR_H

#include <stdarg.h>
#include <stdio.h>

struct err {
	char msg[512];
};

/* Formats the message into e (if non-NULL) and returns code (a -errno). */
static inline __attribute__((format(printf, 3, 4))) int
err_set(struct err *e, int code, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

#endif
