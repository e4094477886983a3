/*
 * Diagnostics a person can act on: the lines that explain why a tunnel is
 * not up when nothing else would say so.
 *
 *  - Client, no HELLO answered: the server sends nothing to a HELLO it
 *    cannot authenticate (by design, see server.c), so a wrong key and an
 *    unreachable server look the same from here. After DIAG_NOANSWER_FIRST
 *    of silence the client names the links it tried and both causes, then
 *    repeats at a doubling interval (capped) so the log is not spammed.
 *  - Server, failed HELLOs: one line per source per 10 s with the count of
 *    each reason (hello_faillog.c).
 *  - Server, the same key from a second client: see diag_duplicate_key.
 */
#include <arpa/inet.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "daemon.h"
#include "link/addr.h"

#define DIAG_NOANSWER_FIRST_NS (5ull * 1000000000ull)
#define DIAG_NOANSWER_MAX_NS   (300ull * 1000000000ull)
/* An old session that heard authenticated traffic this recently is still
 * in use by whoever holds it (see diag_duplicate_key). */
#define DIAG_DUP_RECENT_NS (2ull * 1000000000ull)
/* ... and is warned about at most this often per client. */
#define DIAG_DUP_EVERY_NS (60ull * 1000000000ull)
/* Failed-HELLO lines over all sources: a spoofed flood from fresh
 * addresses would otherwise earn one line each. At most this many per
 * window; the rest are counted and reported with the next line. */
#define DIAG_FAIL_LINES	    5
#define DIAG_FAIL_WINDOW_NS (10ull * 1000000000ull)

/* The source's address without the port (a client retries from several
 * ports, and the log groups by address). */
static const char *addr_only(const struct sockaddr_storage *ss, char *buf,
			     size_t n)
{
	const void *a = NULL;
	if (ss->ss_family == AF_INET)
		a = &((const struct sockaddr_in *)ss)->sin_addr;
	else if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a6 =
		    &((const struct sockaddr_in6 *)ss)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6))
			return inet_ntop(AF_INET, a6->s6_addr + 12, buf,
					 (socklen_t)n)
				   ?: "?";
		a = a6;
	}
	if (!a || !inet_ntop(ss->ss_family, a, buf, (socklen_t)n))
		snprintf(buf, n, "?");
	return buf;
}

void diag_hello_failed(struct daemon *d, const struct sockaddr_storage *from,
		       enum hello_fail why, uint64_t now)
{
	struct hello_fail_report r;
	char a[64], reasons[160];
	static uint64_t window_ns, suppressed;
	static unsigned lines;
	if (!d->hello_fl ||
	    !hello_faillog_note(d->hello_fl, from, why, now, &r))
		return;
	if (!window_ns || now - window_ns >= DIAG_FAIL_WINDOW_NS) {
		window_ns = now;
		lines = 0;
	}
	if (++lines > DIAG_FAIL_LINES) {
		suppressed += r.total;
		return;
	}
	addr_only(from, a, sizeof(a));
	hello_fail_report_str(&r, reasons, sizeof(reasons));
	const char *hint =
	    r.count[HF_UNKNOWN_KEY]
		? "; a client whose key is not in this server's clients "
		  "list (wrong or old key file?)"
	    : r.count[HF_BAD_MAC]
		? "; the packets were altered on the way, or a key file "
		  "differs in content but not in id"
	    : r.count[HF_OLD_TIMESTAMP]
		? "; replayed HELLOs, or the client's clock went back"
		: "";
	log_warn("handshake", "%llu failed HELLO%s from %s in %.0f s: %s%s",
		 (unsigned long long)r.total, r.total == 1 ? "" : "s", a,
		 (now - r.since_ns) / 1e9, reasons, hint);
	if (suppressed) {
		log_warn("handshake",
			 "and %llu failed HELLOs from other sources not logged "
			 "(at most %d lines per %llu s)",
			 (unsigned long long)suppressed, DIAG_FAIL_LINES,
			 DIAG_FAIL_WINDOW_NS / 1000000000ull);
		suppressed = 0;
	}
}

/*
 * A HELLO for client idx arrives from `from` while `old` is its session.
 * Is it the same client starting over, or a second machine with a copy of
 * the key (which takes the session away from the first)? The heuristic:
 *
 *  - same client: `from` is the address one of old's paths already uses
 *    (a client re-handshaking over a link it had), or old has heard no
 *    authenticated packet for DIAG_DUP_RECENT_NS (2 s). A client only
 *    re-handshakes after hearing nothing for at least 3 s, and a client
 *    that moved through NAT rebinding moves its paths with its packets
 *    (path_learn), so by the time its HELLO arrives from a new address its
 *    old session has gone quiet.
 *  - another client: a new address while old is still receiving on its
 *    paths: someone else is using it right now.
 *
 * A client killed and restarted within 2 s (new source ports, no CLOSE
 * sent) is the one case that warns wrongly; a clean stop sends CLOSE, so
 * there is no old session then.
 */
bool diag_duplicate_key(struct daemon *d, const struct session *old, int idx,
			const struct sockaddr_storage *from, uint64_t now)
{
	char a[64], olds[200];
	size_t off = 0;
	if (old->state != SESS_ESTABLISHED ||
	    now - old->last_rx_ns > DIAG_DUP_RECENT_NS)
		return false;
	olds[0] = 0;
	for (uint32_t i = 0; i < old->n_paths; i++) {
		const struct path *p = &old->paths[i];
		if (!p->known || !p->peer_len)
			continue;
		if (sockaddr_equal(&p->peer, from))
			return false;
		if (off < sizeof(olds)) {
			int w = snprintf(olds + off, sizeof(olds) - off, "%s%s",
					 off ? ", " : "",
					 sockaddr_str(&p->peer, a, sizeof(a)));
			if (w > 0)
				off += (size_t)w;
		}
	}
	if (!olds[0])
		return false;
	/* Two machines fighting over one key replace each other every few
	 * seconds: one line per client per DIAG_DUP_EVERY_NS, with a count. */
	static uint64_t last_ns[CFG_MAX_CLIENTS], more[CFG_MAX_CLIENTS];
	if (idx >= 0 && idx < CFG_MAX_CLIENTS && last_ns[idx] &&
	    now - last_ns[idx] < DIAG_DUP_EVERY_NS) {
		more[idx]++;
		return true;
	}
	char again[64] = "";
	if (idx >= 0 && idx < CFG_MAX_CLIENTS) {
		if (more[idx])
			snprintf(again, sizeof(again),
				 " (%llu more such replacements before)",
				 (unsigned long long)more[idx]);
		last_ns[idx] = now;
		more[idx] = 0;
	}
	log_warn("session",
		 "client %s: a second client with the same key connected "
		 "from %s while session %08x was active from %s; the first "
		 "loses its tunnel%s. Each machine needs its own key "
		 "(tuntunctl genkey) and its own clients entry",
		 d->cfg.clients[idx].name, sockaddr_str(from, a, sizeof(a)),
		 old->id, olds, again);
	return true;
}

void diag_client_handshake_start(struct daemon *d, uint64_t now)
{
	if (d->hs_since_ns)
		return; /* still the same stretch without a session */
	d->hs_since_ns = now;
	d->hs_report_every_ns = DIAG_NOANSWER_FIRST_NS;
	d->hs_next_report_ns = now + DIAG_NOANSWER_FIRST_NS;
}

void diag_client_established(struct daemon *d, uint64_t now)
{
	if (d->hs_reported)
		log_notice("handshake", "the server answered after %.0f s",
			   (now - d->hs_since_ns) / 1e9);
	d->hs_since_ns = 0;
	d->hs_reported = 0;
}

/* Appends "PEER on a, b" groups for the links that sent HELLOs. */
static void tried_links(struct daemon *d, char *buf, size_t n, char *skipped,
			size_t sn)
{
	size_t off = 0, soff = 0;
	bool done[CFG_MAX_LINKS] = {false};
	buf[0] = skipped[0] = 0;
	for (uint32_t i = 0; i < d->cfg.n_links; i++) {
		if (done[i])
			continue;
		if (d->uplinks[i].fd < 0 || d->sess->paths[i].admin_down) {
			int w =
			    snprintf(skipped + soff, sn - soff, "%s%s",
				     soff ? ", " : "", d->cfg.links[i].name);
			if (w > 0 && (size_t)w < sn - soff)
				soff += (size_t)w;
			done[i] = true;
			continue;
		}
		const struct cfg_sockaddr *peer = uplink_peer(d, i);
		char a[64];
		int w =
		    snprintf(buf + off, n - off, "%s%s on %s", off ? "; " : "",
			     sockaddr_str(&peer->ss, a, sizeof(a)),
			     d->cfg.links[i].name);
		if (w > 0 && (size_t)w < n - off)
			off += (size_t)w;
		for (uint32_t k = i + 1; k < d->cfg.n_links; k++) {
			if (done[k] || d->uplinks[k].fd < 0 ||
			    d->sess->paths[k].admin_down ||
			    !sockaddr_equal(&uplink_peer(d, k)->ss, &peer->ss))
				continue;
			w = snprintf(buf + off, n - off, ", %s",
				     d->cfg.links[k].name);
			if (w > 0 && (size_t)w < n - off)
				off += (size_t)w;
			done[k] = true;
		}
		done[i] = true;
	}
}

void diag_client_hello_tick(struct daemon *d, uint64_t now)
{
	char tried[400], skipped[200];
	if (!d->hs_since_ns || now < d->hs_next_report_ns)
		return;
	tried_links(d, tried, sizeof(tried), skipped, sizeof(skipped));
	double secs = (now - d->hs_since_ns) / 1e9;
	if (!tried[0] && d->cfg.server_host[0] && !d->cfg.server.len)
		log_warn("handshake",
			 "no HELLO sent for %.0f s: the server's name %s has "
			 "not resolved yet (see the dns lines)",
			 secs, d->cfg.server_host);
	else if (!tried[0])
		log_warn("handshake",
			 "no HELLO sent for %.0f s: no link has a socket "
			 "(%s)",
			 secs, skipped);
	else
		log_warn("handshake",
			 "no answer from %s after %.0f s: server unreachable, "
			 "or this client's key differs from the server's%s%s%s",
			 tried, secs, skipped[0] ? " (not tried: " : "",
			 skipped, skipped[0] ? ")" : "");
	d->hs_reported++;
	d->hs_report_every_ns *= 2;
	if (d->hs_report_every_ns > DIAG_NOANSWER_MAX_NS)
		d->hs_report_every_ns = DIAG_NOANSWER_MAX_NS;
	d->hs_next_report_ns = now + d->hs_report_every_ns;
}
