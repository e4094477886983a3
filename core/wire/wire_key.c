/*
 * Pre-shared key files: 32 random bytes as one line of standard base64
 * (44 characters), like WireGuard's key files. The loader refuses a file
 * others can read, because anyone holding the PSK can open sessions and
 * read the traffic, and one owned by anybody but root or us (who could
 * swap it); the generator never overwrites an existing key, because
 * losing a deployed key locks a client out.
 */
#include "wire/wire.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"

/* Longer than any valid key file; longer files are refused, not cut. */
#define KEY_FILE_MAX 128

static int wire_key_read(int fd, const char *path, char *buf, size_t room,
			 size_t *len, struct err *e)
{
	size_t n = 0;

	for (;;) {
		ssize_t r = read(fd, buf + n, room - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return err_set(e, -errno, "%s: read: %s", path,
				       strerror(errno));
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == room)
			return err_set(e, -EINVAL,
				       "%s: too long for a key file (expected "
				       "44 base64 characters)",
				       path);
	}
	*len = n;
	return 0;
}

static int wire_key_decode(const char *path, char *text, size_t len,
			   uint8_t psk[WIRE_KEY_LEN], struct err *e)
{
	uint8_t bin[KEY_FILE_MAX];
	const char *end = NULL;
	size_t bin_len = 0;
	int rc = 0;

	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (len > 0 && text[len - 1] == '\r')
		len--;
	if (sodium_base642bin(bin, sizeof(bin), text, len, NULL, &bin_len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != text + len) {
		rc = err_set(e, -EINVAL,
			     "%s: not a base64 key (bad character or padding "
			     "at offset %zu; generate one with `tuntunctl "
			     "genkey`)",
			     path, end ? (size_t)(end - text) : (size_t)0);
		goto out;
	}
	if (bin_len != WIRE_KEY_LEN) {
		rc = err_set(e, -EINVAL,
			     "%s: key is %zu bytes, expected %d (44 base64 "
			     "characters)",
			     path, bin_len, WIRE_KEY_LEN);
		goto out;
	}
	memcpy(psk, bin, WIRE_KEY_LEN);
out:
	sodium_memzero(bin, sizeof(bin));
	return rc;
}

int wire_key_load(const char *path, uint8_t psk[WIRE_KEY_LEN], struct err *e)
{
	char text[KEY_FILE_MAX];
	struct stat st;
	size_t len = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = err_set(e, -errno, "%s: stat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = err_set(e, -EINVAL, "%s: not a regular file", path);
		goto out;
	}
	/* Someone else's file could be swapped for their own key. */
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		rc = err_set(e, -EPERM,
			     "%s is owned by uid %d; expected root or the "
			     "user starting the daemon (uid %d)",
			     path, (int)st.st_uid, (int)geteuid());
		goto out;
	}
	if (st.st_mode & 077) {
		rc = err_set(e, -EPERM,
			     "%s is readable by others (mode %04o); chmod 600 "
			     "it",
			     path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	rc = wire_key_read(fd, path, text, sizeof(text), &len, e);
	if (rc == 0)
		rc = wire_key_decode(path, text, len, psk, e);
out:
	sodium_memzero(text, sizeof(text));
	if (close(fd) < 0 && rc == 0)
		rc = err_set(e, -errno, "%s: close: %s", path, strerror(errno));
	return rc;
}

static int wire_key_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* On any failure after creating the file, remove it: no half-written key. */
int wire_key_generate(const char *path, struct err *e)
{
	uint8_t key[WIRE_KEY_LEN];
	char text[sodium_base64_ENCODED_LEN(WIRE_KEY_LEN,
					    sodium_base64_VARIANT_ORIGINAL) +
		  1];
	size_t len;
	int fd, rc;

	(void)wire_init();
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOCTTY,
		  0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return err_set(e, -EEXIST,
				       "%s already exists; refusing to "
				       "overwrite a key",
				       path);
		return err_set(e, -errno, "%s: %s", path, strerror(errno));
	}
	randombytes_buf(key, sizeof(key));
	sodium_bin2base64(text, sizeof(text) - 1, key, sizeof(key),
			  sodium_base64_VARIANT_ORIGINAL);
	len = strlen(text);
	text[len++] = '\n';
	rc = wire_key_write_all(fd, text, len);
	if (rc < 0)
		err_set(e, rc, "%s: write: %s", path, strerror(-rc));
	else if (fsync(fd) < 0)
		rc = err_set(e, -errno, "%s: fsync: %s", path, strerror(errno));
	if (close(fd) < 0 && rc == 0)
		rc = err_set(e, -errno, "%s: close: %s", path, strerror(errno));
	if (rc < 0 && unlink(path) < 0)
		log_warn("wire", "%s: could not remove partial key file: %s",
			 path, strerror(errno));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(text, sizeof(text));
	return rc;
}
