/* In-session control messages between client and server (peerctl.c). */
#ifndef TTT_PEERCTL_H
#define TTT_PEERCTL_H

#include <jansson.h>
#include <stdint.h>

#include "conf/config.h"

struct session;
struct path;

/* Either end: one in-session control message arrived on path p. */
void peerctl_on_message(struct session *s, struct path *p, const uint8_t *body,
			size_t len, uint64_t now);
/* Either end: tell the peer our links' names and ids. */
int peerctl_send_link_info(struct session *s, uint64_t now);

/* JSON {"k": v} -> plugin options; returns the count or -EINVAL. */
int peerctl_options(json_t *obj, struct cfg_opt *opts, uint32_t max,
		    struct err *e);
/* Client: ask the server to swap the downstream scheduler. */
int peerctl_send_sched_set(struct session *s, uint64_t req, const char *plugin,
			   const struct cfg_opt *opts, uint32_t n,
			   uint64_t now);

#endif
