/*
 * Levelled logging: "HH:MM:SS.mmm LEVEL subsys: message" to stderr, or to
 * syslog. When stderr is the systemd journal (a service's stderr, which
 * systemd names in $JOURNAL_STREAM as "DEVICE:INODE"), each line starts
 * with "<N>", the syslog priority the journal reads (sd-daemon(3)), and
 * carries no time stamp: the journal keeps its own.
 */
#include "base/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int log_level = LOG_INFO;
static int log_syslog;
static int log_journal;

/* Whether stderr is still the stream systemd connected to the journal (a
 * redirect, e.g. `tuntuntun ... 2>file` inside a unit, makes it not). */
static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;
	if (!js || sscanf(js, "%llu:%llu%c", &dev, &ino, &tail) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

static const char *const level_names[] = {
    [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",     [LOG_CRIT] = "crit",
    [LOG_ERR] = "error",   [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
    [LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

void log_init(const char *ident, int level, int use_syslog)
{
	log_level = level;
	log_syslog = use_syslog;
	log_journal = !use_syslog && stderr_is_journal();
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(int level)
{
	log_level = level;
}
int log_get_level(void)
{
	return log_level;
}

int log_level_from_name(const char *name)
{
	for (int i = LOG_ERR; i <= LOG_DEBUG; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	if (strcmp(name, "warn") == 0)
		return LOG_WARNING;
	return -1;
}

void log_msg(int level, const char *subsys, const char *fmt, ...)
{
	if (level > log_level)
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (log_syslog) {
		syslog(level, "%s: %s", subsys, buf);
		return;
	}
	if (log_journal) {
		fprintf(stderr, "<%d>%s %s: %s\n", level & 7,
			level_names[level & 7], subsys, buf);
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	localtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%02d:%02d:%02d.%03ld %s %s: %s\n", tm.tm_hour,
		tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
		level_names[level & 7], subsys, buf);
}

const char *log_esc(const char *in, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (const unsigned char *c = (const unsigned char *)in; *c; c++) {
		bool plain = *c >= 0x20 && *c < 0x7f && *c != '\\' && *c != '"';
		size_t need = plain ? 1 : 4;
		if (o + need + 4 > len) { /* room for "..." and the NUL */
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (plain) {
			buf[o++] = (char)*c;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[*c >> 4];
			buf[o++] = hex[*c & 15];
		}
	}
	buf[o] = '\0';
	return buf;
}
