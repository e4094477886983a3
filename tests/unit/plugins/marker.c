/* Test plugin whose constructor leaves a trace: it appends a line to the
 * file named by $TTT_MARKER_FILE the moment the object is loaded, before
 * the host has checked anything. A test that must prove a file was never
 * dlopen'ed (a path or an unknown name sent by a peer) checks that the
 * file stays absent; the same plugin loaded on purpose shows it appears. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tuntuntun/sched.h>

__attribute__((constructor)) static void marker_ctor(void)
{
	const char *f = getenv("TTT_MARKER_FILE");
	if (!f || !*f)
		return;
	int fd = open(f, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	static const char line[] = "marker constructor ran\n";
	if (write(fd, line, sizeof(line) - 1) < 0) {
		/* nothing to do: the file's existence is the signal */
	}
	close(fd);
}

static int marker_pick(void *priv, const struct ttt_sched_ctx *ctx,
		       const struct ttt_pkt_info *pkt)
{
	for (uint32_t i = 0; i < ctx->n_links; i++)
		if (ttt_link_usable(&ctx->links[i]))
			return (int)i;
	return TTT_PICK_DROP;
}

static const struct ttt_sched_ops ops = {
    TTT_SCHED_OPS_HEADER,
    .name = "marker",
    .version = "1",
    .description = "test plugin: constructor writes $TTT_MARKER_FILE",
    .pick = marker_pick,
};

TTT_SCHED_PLUGIN(ops)
