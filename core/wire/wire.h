/*
 * Wire format of tuntuntun (full description in docs/protocol.md).
 *
 * Every datagram:   header (16 bytes, cleartext, authenticated)
 *                   body   (encrypted in CRYPTO_ENCRYPT mode)
 *                   tag    (16 bytes; absent in CRYPTO_NONE mode)
 *
 * Header:  0 u8 version (WIRE_VERSION)   1 u8 type (enum wire_type)
 *          2 u8 link id                  3 u8 flags (WF_*)
 *          4 u32 session id (big endian, 0 in HELLO)
 *          8 u64 seq (big endian): per session and direction, strictly
 *            increasing over all packet types and links; it is the AEAD
 *            nonce, the replay-window index and the reorder key.
 *
 * DATA body:    u32 prev_gap   seq distance to the previous DATA packet of
 *                              the same flow bucket (0 = none / too far)
 *               u16 bucket     flow bucket (flow hash % WIRE_BUCKETS)
 *               u16 reserved   zero
 *               u32 path_seq   per-link DATA counter (version 3)
 *               u32 tx_us      sender's monotonic clock, us mod 2^32 (v3)
 *               inner IP packet
 *
 * FEEDBACK body (version 3): what the receiver got per link since the
 * last one, for the sender's link model (core/link/linkmodel.h).
 *
 * HELLO / HELLO_ACK are authenticated with the pre-shared key (keyed
 * BLAKE2b) rather than session keys, since they create the session; they
 * carry X25519 ephemeral public keys whose shared secret is mixed with the
 * PSK into the session keys (forward secrecy, wire_kx.c). REKEY /
 * REKEY_ACK repeat that exchange inside the session (rekey.c); COOKIE is
 * the server's answer to a HELLO under load (cookie.c).
 * All multi-byte integers are big endian.
 */
#ifndef TTT_WIRE_H
#define TTT_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "base/err.h"

/* 2: X25519 ephemeral handshake, blinded key id, cookie (mac2), key epochs
 * and in-session rekeying. 3: DATA carries path_seq and tx_us, FEEDBACK
 * (the link model). Older versions are refused (see docs/protocol.md). */
#define WIRE_VERSION	  3
#define WIRE_HDR_LEN	  16
#define WIRE_TAG_LEN	  16
#define WIRE_DATA_HDR_LEN 16
#define WIRE_BUCKETS	  256
#define WIRE_KEY_LEN	  32
#define WIRE_RANDOM_LEN	  32
#define WIRE_PUB_LEN	  32 /* X25519 public key */
#define WIRE_COOKIE_LEN	  16
#define WIRE_KEYID_LEN	  8
#define WIRE_MAX_PACKET	  65535
/* HELLO is padded to this size so HELLO_ACK (smaller) never amplifies. */
#define WIRE_HELLO_LEN	    160
#define WIRE_HELLO_ACK_LEN  104 /* fixed; <= WIRE_HELLO_LEN */
#define WIRE_HELLO_MAC_LEN  16	/* keyed BLAKE2b-128 */
#define WIRE_COOKIE_MSG_LEN 48	/* COOKIE: header + mac1 echo + cookie */
#define WIRE_SCHED_NAME_MAX 32

enum wire_type {
	WT_HELLO = 1,	  /* client -> server: open a session (PSK MAC) */
	WT_HELLO_ACK = 2, /* server -> client: session id + random (PSK MAC) */
	WT_DATA = 3,	  /* an inner IP packet */
	WT_PROBE = 4,	  /* link probe; also registers/refreshes the link */
	WT_PROBE_REPLY = 5, /* echo of a probe */
	WT_CONTROL = 6,	    /* in-session control message (JSON text body) */
	WT_CLOSE = 7,	    /* the sender ends the session */
	/* version 2 */
	WT_REKEY = 8,	  /* client -> server: new ephemeral (session keys) */
	WT_REKEY_ACK = 9, /* server -> client: its ephemeral (session keys) */
	WT_COOKIE = 10,	  /* server -> client: HELLO refused under load, echo
			     this cookie (mac2); no session, no MAC */
	/* version 3 */
	WT_FEEDBACK = 11, /* per-link delivery report (docs/link-model.md) */
	WT_NACK = 12,	  /* receiver: these path_seqs went missing */
	WT_RETX = 13,	  /* a DATA packet sent again (loss recovery) */
	WT_TYPE_MAX = 13,
};

enum wire_flags {
	WF_ENCRYPTED = 0x01, /* body is encrypted (else only authenticated) */
	WF_EPOCH = 0x02,     /* key epoch parity: which of the two live key
				sets sealed the packet (rekey.h) */
};

enum crypto_mode {
	CRYPTO_ENCRYPT = 0, /* ChaCha20-Poly1305 (IETF), body encrypted */
	CRYPTO_AUTH = 1,    /* ChaCha20-Poly1305 tag over header+body only */
	CRYPTO_NONE = 2,    /* no tag: trusted networks and benchmarks only */
};

/*
 * AEAD used by a session in the encrypt and auth modes, agreed in the
 * handshake: AES-256-GCM when both ends have hardware AES (about twice as
 * fast as ChaCha20 there), ChaCha20-Poly1305 otherwise. Both use the same
 * 32-byte keys, 12-byte nonce (4 zero bytes || seq) and 16-byte tag.
 */
enum wire_cipher {
	WIRE_CIPHER_CHACHA20 = 0, /* ChaCha20-Poly1305 (IETF) */
	WIRE_CIPHER_AES256GCM = 1,
};
/* HELLO's `ciphers` bits: what the client can use. */
#define WIRE_CIPHERS_CHACHA20  0x01
#define WIRE_CIPHERS_AES256GCM 0x02

struct wire_hdr {
	uint8_t version;
	uint8_t type;
	uint8_t link_id;
	uint8_t flags;
	uint32_t session_id;
	uint64_t seq;
};

/* Session keys for one side. tx seals what we send, rx opens what we get. */
struct wire_keys {
	int mode;	/* enum crypto_mode */
	int cipher;	/* enum wire_cipher (wire_keys_set_cipher) */
	uint32_t epoch; /* key epoch: 0 after the handshake, +1 per rekey; its
			   parity is sealed into the header (WF_EPOCH) */
	uint8_t tx[WIRE_KEY_LEN];
	uint8_t rx[WIRE_KEY_LEN];
	/* AES-256-GCM expanded keys, set by wire_keys_set_cipher() */
	crypto_aead_aes256gcm_state tx_aes, rx_aes;
};

/*
 * Initialises libsodium (fast code paths, RNG). main() calls it once at
 * start-up; every wire_* function also calls it lazily, so forgetting it is
 * slower, never wrong. Returns 0 or -EIO.
 */
int wire_init(void);

/* Bytes a DATA packet adds around the inner packet, excluding IP/UDP. */
size_t wire_data_overhead(int mode);
/* Bytes the outer IP and UDP headers add to each datagram on a path of
 * `family`: 20 + 8 over IPv4, 40 + 8 over IPv6 (no extension headers).
 * Path MTUs count whole outer datagrams, so this is what they lose first. */
size_t wire_outer_overhead(int family);
/* Everything around an inner packet on the wire: outer IP + UDP + our
 * header, DATA sub-header and tag (docs/protocol.md, "Overhead"). A link of
 * MTU m carries inner packets of m - wire_tunnel_overhead(family, mode). */
size_t wire_tunnel_overhead(int family, int mode);

void wire_hdr_encode(uint8_t *buf, const struct wire_hdr *h);
/* Checks length, version, type. Returns 0, or -EBADMSG / -EPROTONOSUPPORT. */
int wire_hdr_decode(const uint8_t *buf, size_t len, struct wire_hdr *h);

/*
 * Seals a packet in place: buf holds the encoded header at 0 and `body_len`
 * bytes of body at WIRE_HDR_LEN; buf must have room for the tag. Sets or
 * clears WF_ENCRYPTED in buf[3] to match k->mode (the header is
 * authenticated, so the flag must be final before sealing). Returns the
 * datagram length, or 0 if k->mode is unknown or the body is too large.
 * The seq in the header is the nonce: never seal two packets with the same
 * seq under the same keys.
 */
size_t wire_seal(const struct wire_keys *k, uint8_t *buf, size_t body_len);

/*
 * The same out of place: in holds the encoded header and body_len bytes of
 * body (as buf above); the datagram is written to out, which has room for
 * it and the tag (out == in is wire_seal()). in's flags byte is set as
 * above; its body is only read. So a packet waiting in a queue, its header
 * built in front of it there, is sealed from there into the send batch
 * with no copy of its own: the cipher's pass is the move (auth and none
 * modes copy). The buffers must not overlap unless equal.
 */
size_t wire_seal_to(const struct wire_keys *k, uint8_t *out, uint8_t *in,
		    size_t body_len);

/*
 * Opens a received datagram in place (header already decoded into h).
 * On success *body points into buf and *body_len is set. Returns 0, or
 * -EBADMSG (too short, bad tag, wrong flags for the mode). Check the replay
 * window before (cheap reject) and update it only after this succeeded.
 */
int wire_open(const struct wire_keys *k, uint8_t *buf, size_t len,
	      const struct wire_hdr *h, uint8_t **body, size_t *body_len);

/* DATA sub-header. */
struct wire_data {
	uint32_t prev_gap;
	uint16_t bucket;
	uint32_t path_seq; /* per-link DATA sequence (starts at 1) */
	uint32_t tx_us;	   /* sender clock, microseconds mod 2^32 */
};
void wire_data_encode(uint8_t *body, const struct wire_data *d);
/* -EBADMSG if len < WIRE_DATA_HDR_LEN or bucket >= WIRE_BUCKETS. */
int wire_data_decode(const uint8_t *body, size_t len, struct wire_data *d);

/* ---- handshake ---- */

struct wire_hello {
	uint64_t timestamp_ns; /* CLOCK_REALTIME; must increase */
	/* the client's X25519 ephemeral public key for this attempt; it also
	 * blinds the key id (wire_hello_key_id) and names the attempt */
	uint8_t client_eph[WIRE_PUB_LEN];
	uint8_t crypto_mode;		      /* enum crypto_mode requested */
	uint8_t link_id;		      /* link it was sent on */
	uint16_t link_mtu;		      /* sender's MTU on that link */
	char downstream[WIRE_SCHED_NAME_MAX]; /* downstream plugin name */
	uint8_t ciphers;		      /* WIRE_CIPHERS_* offered */
};

struct wire_hello_ack {
	uint32_t session_id;
	uint8_t client_eph[WIRE_PUB_LEN]; /* echoed */
	uint8_t
	    server_eph[WIRE_PUB_LEN]; /* the server's ephemeral public key */
	uint8_t link_id;
	uint8_t status; /* 0 = ok, else enum wire_refusal */
	uint8_t cipher; /* enum wire_cipher chosen by the server */
};

enum wire_refusal {
	WR_OK = 0,
	WR_CRYPTO_MODE = 1, /* server does not allow the requested mode */
	WR_SCHEDULER = 2,   /* server does not have the downstream plugin */
};

/* Static key id of a PSK: first 8 bytes of BLAKE2b-128("tuntuntun key id",
 * key=psk) (libsodium has no 8-byte BLAKE2b output). Never on the wire in
 * version 2; the server uses it to refuse two clients sharing a key. */
void wire_key_id(const uint8_t psk[WIRE_KEY_LEN], uint8_t id[WIRE_KEYID_LEN]);
/* Blinded key id carried by a version-2 HELLO: first 8 bytes of
 * BLAKE2b-128(key = psk, "tuntuntun v2 key id" || client_eph). It differs
 * for every handshake attempt, so a passive observer cannot link HELLOs
 * of one client; the server finds the key by trying each client's. */
void wire_hello_key_id(const uint8_t psk[WIRE_KEY_LEN],
		       const uint8_t client_eph[WIRE_PUB_LEN],
		       uint8_t id[WIRE_KEYID_LEN]);

/*
 * Builds a HELLO (WIRE_HELLO_LEN bytes) into buf; returns the length.
 * mac1 (PSK) is always set; mac2 only with a cookie (else zeros). mac1 is
 * copied to mac1_out when non-NULL (the client matches COOKIE replies).
 */
size_t wire_hello_build(uint8_t *buf, const uint8_t psk[WIRE_KEY_LEN],
			const struct wire_hello *m,
			const uint8_t cookie[WIRE_COOKIE_LEN],
			uint8_t mac1_out[WIRE_HELLO_MAC_LEN]);
/* Length and header of a HELLO, nothing else: the cheap first check. */
int wire_hello_check(const uint8_t *buf, size_t len);
/*
 * Which of n PSKs a HELLO (already wire_hello_check()ed) names: index, or
 * -ENOENT. Costs one BLAKE2b per key tried; the server calls it only for
 * HELLOs that passed its budget (and, under load, the cookie check).
 */
int wire_hello_identify(const uint8_t *buf, size_t len,
			const uint8_t (*psks)[WIRE_KEY_LEN], uint32_t n);
/* The mac1 and mac2 fields of a checked HELLO. */
const uint8_t *wire_hello_mac1(const uint8_t *buf);
const uint8_t *wire_hello_mac2(const uint8_t *buf);
/* Bytes that mac2 covers (everything before it, mac1 included). */
size_t wire_hello_mac2_span(void);
/*
 * Verifies length, header, mac1 and the blinded key id with psk, then
 * decodes. Returns 0, -EBADMSG or -EPROTONOSUPPORT. crypto_mode is
 * returned as sent (the server checks it and may answer WR_CRYPTO_MODE);
 * downstream is NUL-terminated. mac2 is not checked here (cookie.c). The
 * caller still checks timestamp_ns > the last accepted one for the key.
 */
int wire_hello_parse(const uint8_t *buf, size_t len,
		     const uint8_t psk[WIRE_KEY_LEN], struct wire_hello *m);

/* Builds a HELLO_ACK (WIRE_HELLO_ACK_LEN bytes); returns the length. */
size_t wire_hello_ack_build(uint8_t *buf, const uint8_t psk[WIRE_KEY_LEN],
			    const struct wire_hello_ack *m);
/* Returns 0 or -EBADMSG; the caller compares client_eph with its own. */
int wire_hello_ack_parse(const uint8_t *buf, size_t len,
			 const uint8_t psk[WIRE_KEY_LEN],
			 struct wire_hello_ack *m);

/*
 * COOKIE (WIRE_COOKIE_MSG_LEN bytes): header (session 0, seq 0, the
 * HELLO's link id) || the HELLO's mac1 || cookie. Not authenticated: the
 * server answers it before it knows who sent the HELLO. The mac1 echo
 * ties it to one HELLO, so only someone who saw that HELLO can forge one.
 */
size_t wire_cookie_build(uint8_t *buf, uint8_t link_id,
			 const uint8_t mac1[WIRE_HELLO_MAC_LEN],
			 const uint8_t cookie[WIRE_COOKIE_LEN]);
/* 0 when buf is a COOKIE answering the HELLO whose mac1 is given (cookie
 * copied out), else -EBADMSG. */
int wire_cookie_parse(const uint8_t *buf, size_t len,
		      const uint8_t mac1[WIRE_HELLO_MAC_LEN],
		      uint8_t cookie[WIRE_COOKIE_LEN]);

/*
 * Version-1 key derivation from the PSK and two randoms, no Diffie-Hellman.
 * Kept only for tests and benchmarks that need keys without a handshake;
 * the daemon derives with wire_kx_session() (wire_kx.h).
 */
void wire_derive_keys(struct wire_keys *k, int mode,
		      const uint8_t psk[WIRE_KEY_LEN],
		      const uint8_t client_random[WIRE_RANDOM_LEN],
		      const uint8_t server_random[WIRE_RANDOM_LEN],
		      uint32_t session_id, int is_client);

/* ---- key exchange (wire_kx.c) ---- */

#define WIRE_CK_LEN                                                            \
	32 /* chaining key carried from one key epoch to the next              \
	    */

/* An X25519 key pair used for one handshake or one rekey, then wiped. */
struct wire_eph {
	uint8_t pk[WIRE_PUB_LEN];
	uint8_t sk[crypto_scalarmult_SCALARBYTES];
};
void wire_eph_generate(struct wire_eph *e);
void wire_eph_wipe(struct wire_eph *e);

/*
 * Session keys of a version-2 handshake (epoch 0):
 *   dh     = X25519(my_sk, peer's ephemeral)
 *   master = BLAKE2b-256(key = PSK, "tuntuntun v2 session" || client_eph
 *                        || server_eph || session_id (be32) || dh)
 *   c2s, s2c, ck = crypto_kdf(master, ids 1, 2, 3, context "tttkeys2")
 * Both the PSK and an ephemeral secret are needed, so a recorded session
 * stays closed to whoever later steals the PSK. `is_client` picks tx/rx
 * and which ephemeral is the peer's. ck (the chaining key) feeds the next
 * rekey. Sets k->mode, k->epoch = 0, cipher ChaCha20 (call
 * wire_keys_set_cipher() after). Returns 0, or -EBADMSG when the peer's
 * key is a low-order point (all-zero shared secret).
 */
int wire_kx_session(struct wire_keys *k, uint8_t ck[WIRE_CK_LEN], int mode,
		    const uint8_t psk[WIRE_KEY_LEN], const uint8_t *my_sk,
		    const uint8_t client_eph[WIRE_PUB_LEN],
		    const uint8_t server_eph[WIRE_PUB_LEN], uint32_t session_id,
		    int is_client);
/*
 * Keys of the next epoch after a REKEY / REKEY_ACK exchange:
 *   master = BLAKE2b-256(key = ck, "tuntuntun v2 rekey" || epoch (be32)
 *                        || client_eph || server_eph || dh)
 * then split as above; ck is replaced by the new chaining key (the old one
 * is wiped). Mode and cipher are taken from `like`. Returns 0, -EBADMSG
 * (low-order point) or -ENOTSUP (cipher).
 */
int wire_kx_rekey(struct wire_keys *k, uint8_t ck[WIRE_CK_LEN],
		  const struct wire_keys *like, uint32_t epoch,
		  const uint8_t *my_sk, const uint8_t client_eph[WIRE_PUB_LEN],
		  const uint8_t server_eph[WIRE_PUB_LEN], int is_client);

/*
 * Selects the session's AEAD after wire_derive_keys() and precomputes what
 * it needs. Returns 0, or -ENOTSUP for AES-256-GCM without hardware AES.
 */
int wire_keys_set_cipher(struct wire_keys *k, int cipher);
/* WIRE_CIPHERS_* this machine can use (ChaCha20 always). */
uint8_t wire_ciphers_local(void);
/* The cipher a server picks from a client's offer: AES-256-GCM if both
 * have it, else ChaCha20-Poly1305. */
int wire_cipher_choose(uint8_t offered);
const char *wire_cipher_name(int cipher);

/* ---- probes ---- */

struct wire_probe {
	uint32_t probe_id;   /* sender's counter per link */
	uint64_t tx_ns;	     /* sender's monotonic clock at send */
	uint64_t rx_packets; /* packets the sender received on this link */
	uint16_t pad_to;     /* total body length incl. padding (PMTU probes) */
};
/* Probe and probe reply share the body; a reply echoes probe_id and tx_ns
 * and carries the replier's own rx_packets and the receive time delta. */
struct wire_probe_reply {
	uint32_t probe_id;
	uint64_t echo_tx_ns;
	uint64_t rx_packets;
	uint32_t hold_us; /* time the replier held the probe before answering */
	uint16_t probe_len; /* body length of the probe answered (PMTU) */
};
#define WIRE_PROBE_LEN	     24
#define WIRE_PROBE_REPLY_LEN 28
/* Returns the body length (max(24, pad_to)), or 0 if it exceeds room. */
size_t wire_probe_encode(uint8_t *body, size_t room,
			 const struct wire_probe *p);
/* Strict: len must equal the encoded length; sets p->pad_to = len. */
int wire_probe_decode(const uint8_t *body, size_t len, struct wire_probe *p);
size_t wire_probe_reply_encode(uint8_t *body, const struct wire_probe_reply *r);
int wire_probe_reply_decode(const uint8_t *body, size_t len,
			    struct wire_probe_reply *r);

/* ---- feedback (receiver -> sender, per link) ---- */

/*
 * One link's report. Counters are cumulative since the link's first DATA
 * packet and wrap mod 2^32 (the sender only uses differences between two
 * reports). Delays are in the receiver's clock against the sender's tx_us:
 * the offset between the clocks is unknown, so only their variation means
 * anything (the sender keeps a windowed minimum as the base).
 */
struct wire_fb_link {
	uint8_t link_id;
	uint16_t interval_pkts; /* DATA packets since the last report (sat.) */
	uint32_t high_seq;	/* highest path_seq received */
	uint32_t rx_packets;	/* DATA packets received (mod 2^32) */
	uint32_t rx_bytes;	/* their datagram bytes (mod 2^32) */
	uint32_t last_rx_us;	/* receiver clock at the newest of them */
	uint32_t owd_min_us;	/* min of rx_us - tx_us over the interval */
	uint32_t owd_max_us;	/* max of the same */
};
#define WIRE_FB_MAX_LINKS 16
#define WIRE_FB_HDR_LEN	  8
#define WIRE_FB_LINK_LEN  28
struct wire_feedback {
	uint32_t gen_us; /* receiver clock when the report was made */
	uint8_t n_links; /* 1..WIRE_FB_MAX_LINKS entries */
	struct wire_fb_link links[WIRE_FB_MAX_LINKS];
};
/* Returns the body length, or 0 if n_links is 0 or too many or room short. */
size_t wire_feedback_encode(uint8_t *body, size_t room,
			    const struct wire_feedback *f);
/* Strict: the length must be exactly that of n entries, n in 1..16, link
 * ids distinct, reserved bytes zero, interval_pkts <= rx_packets delta is
 * the sender's business. Returns 0 or -EBADMSG. */
int wire_feedback_decode(const uint8_t *body, size_t len,
			 struct wire_feedback *f);

/* ---- loss recovery (docs/loss-recovery.md) ---- */

/*
 * NACK: runs of path_seqs the receiver found missing, per link. A run is
 * (link_id, count, first): first, first+1, ... first+count-1 (mod 2^32).
 */
struct wire_nack_run {
	uint8_t link_id;
	uint16_t count; /* 1..WIRE_NACK_MAX_COUNT */
	uint32_t first;
};
#define WIRE_NACK_HDR_LEN   4
#define WIRE_NACK_RUN_LEN   8
#define WIRE_NACK_MAX_RUNS  32
#define WIRE_NACK_MAX_COUNT 1024
struct wire_nack {
	uint8_t n_runs; /* 1..WIRE_NACK_MAX_RUNS */
	struct wire_nack_run runs[WIRE_NACK_MAX_RUNS];
};
/* Returns the body length, or 0 if n_runs or a count is out of range or
 * room is short. */
size_t wire_nack_encode(uint8_t *body, size_t room, const struct wire_nack *n);
/* Strict: exact length for n_runs in 1..32, reserved bytes zero, counts in
 * 1..1024. Returns 0 or -EBADMSG. */
int wire_nack_decode(const uint8_t *body, size_t len, struct wire_nack *n);

/*
 * RETX sub-header: the DATA sub-header's 16 bytes with the bucket in one
 * byte, the link the original was lost on, and `back`, the distance from
 * this packet's own header seq (its nonce) down to the original's seq (the
 * reorder key). Same size as DATA, so a resend fits wherever the original
 * did.
 */
struct wire_retx {
	uint32_t prev_gap;
	uint8_t bucket;	   /* < WIRE_BUCKETS */
	uint8_t lost_link; /* link that lost the original (or died with it) */
	uint16_t back;	   /* header seq - original seq, 1..65535 */
	uint32_t path_seq; /* per-link seq on the link it goes on now */
	uint32_t tx_us;
};
void wire_retx_encode(uint8_t *body, const struct wire_retx *r);
/* -EBADMSG if len < WIRE_DATA_HDR_LEN or back is 0. */
int wire_retx_decode(const uint8_t *body, size_t len, struct wire_retx *r);

/* Flow bucket and hash of an inner IP packet (5-tuple; 0 if unparsable). */
uint32_t wire_flow_hash(const uint8_t *pkt, size_t len);

/*
 * Pre-shared keys: 32 random bytes, stored as base64 text in a file.
 * load refuses group/world-readable files and files owned by neither root
 * nor the effective user (-EPERM), and bad content (-EINVAL);
 * generate refuses to overwrite (-EEXIST) and creates the file mode 0600.
 */
int wire_key_load(const char *path, uint8_t psk[WIRE_KEY_LEN], struct err *e);
int wire_key_generate(const char *path, struct err *e);

#endif
