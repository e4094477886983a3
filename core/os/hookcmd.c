/* Splitting a hook's command line into argv (the rules in hookcmd.h). */
#include "os/hookcmd.h"

#include <errno.h>
#include <stdbool.h>

int hookcmd_split(const char *cmd, char *buf, size_t bufsz, char **argv,
		  int max, struct err *e)
{
	size_t o = 0;
	int n = 0;
	const char *p = cmd;

	if (max < 2)
		return err_set(e, -EINVAL, "no room for arguments");
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (n + 1 >= max)
			return err_set(e, -EINVAL,
				       "more than %d words; a hook takes at "
				       "most that many arguments",
				       max - 1);
		if (o >= bufsz)
			return err_set(e, -ENOSPC, "command too long");
		argv[n++] = buf + o;
		bool word = true;
		while (word && *p) {
			char ch = *p;
			if (ch == ' ' || ch == '\t') {
				word = false;
				break;
			}
			if (ch == '\'') {
				const char *q = p + 1;
				while (*q && *q != '\'')
					q++;
				if (!*q)
					return err_set(e, -EINVAL,
						       "unclosed ' in word %d",
						       n);
				for (p++; p < q; p++) {
					if (o + 1 >= bufsz)
						return err_set(e, -ENOSPC,
							       "command too "
							       "long");
					buf[o++] = *p;
				}
				p++;
				continue;
			}
			if (ch == '"') {
				p++;
				while (*p && *p != '"') {
					if (*p == '\\' &&
					    (p[1] == '"' || p[1] == '\\'))
						p++;
					if (o + 1 >= bufsz)
						return err_set(e, -ENOSPC,
							       "command too "
							       "long");
					buf[o++] = *p++;
				}
				if (!*p)
					return err_set(e, -EINVAL,
						       "unclosed \" in word %d",
						       n);
				p++;
				continue;
			}
			if (ch == '\\') {
				if (!p[1])
					return err_set(e, -EINVAL,
						       "trailing backslash");
				p++;
			}
			if (o + 1 >= bufsz)
				return err_set(e, -ENOSPC, "command too long");
			buf[o++] = *p++;
		}
		if (o >= bufsz)
			return err_set(e, -ENOSPC, "command too long");
		buf[o++] = 0;
	}
	argv[n] = NULL;
	if (n == 0)
		return err_set(e, -EINVAL, "empty command");
	if (argv[0][0] != '/')
		return err_set(e, -EINVAL,
			       "\"%.64s\" is not an absolute path; hooks run "
			       "without a shell or PATH, so name the program "
			       "as /path/to/it",
			       argv[0]);
	return n;
}
