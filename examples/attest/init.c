/*
 * init for the eifkit "attest" example enclave: ask the Nitro Secure Module for an
 * attestation document and print it on the console as one line
 *
 *     NSM-ATTESTATION <lowercase hex of the document>
 *
 * (or "NSM-ERROR <what>" on any failure), then restart the machine, which QEMU's
 * nitro-enclave machine (run with -no-reboot) turns into a clean exit.
 *
 * The request goes through the kernel's nsm driver (/dev/nsm, NSM_IOCTL_RAW from
 * include/uapi/linux/nsm.h): the all-null Attestation request, whose reply is the CBOR
 * map {"Attestation": {"document": <bytes>}}; the document is that byte string.
 *
 * No libc: raw x86_64 Linux system calls (../init-syscalls.h); the restart is a triple
 * fault, as in hello. Build: ../build-init.sh examples/attest sys
 */
#include "../init-syscalls.h"

#define SYSLOG_ACTION_CONSOLE_LEVEL 8

/* include/uapi/linux/nsm.h */
struct nsm_iovec {
	unsigned long long addr;
	unsigned long long len;
};
struct nsm_raw {
	struct nsm_iovec request;
	struct nsm_iovec response;
};
/* _IOWR(0x0A, 0, struct nsm_raw): read|write (3) << 30 | size << 16 | type << 8 | nr */
#define NSM_IOCTL_RAW ((3UL << 30) | ((unsigned long)sizeof(struct nsm_raw) << 16) | (0x0AUL << 8))
#define NSM_RESPONSE_MAX_SIZE 0x3000

/* CBOR {"Attestation": {"user_data": null, "nonce": null, "public_key": null}} (44 bytes) */
static const unsigned char request[] = {
	0xa1, 0x6b, 'A', 't', 't', 'e', 's', 't', 'a', 't', 'i', 'o', 'n',
	0xa3, 0x69, 'u', 's', 'e', 'r', '_', 'd', 'a', 't', 'a', 0xf6,
	0x65, 'n', 'o', 'n', 'c', 'e', 0xf6,
	0x6a, 'p', 'u', 'b', 'l', 'i', 'c', '_', 'k', 'e', 'y', 0xf6,
};

/* The reply up to the document's byte-string header:
 * {"Attestation": {"document": ... (one-entry maps, keys as text strings). */
static const unsigned char reply_prefix[] = {
	0xa1, 0x6b, 'A', 't', 't', 'e', 's', 't', 'a', 't', 'i', 'o', 'n',
	0xa1, 0x68, 'd', 'o', 'c', 'u', 'm', 'e', 'n', 't',
};

static unsigned char response[NSM_RESPONSE_MAX_SIZE];
static char line[sizeof("NSM-ATTESTATION ") + 2 * NSM_RESPONSE_MAX_SIZE + 1];

static char *put_hex(char *out, const unsigned char *bytes, unsigned long n)
{
	static const char digits[] = "0123456789abcdef";
	for (unsigned long i = 0; i < n; i++) {
		*out++ = digits[bytes[i] >> 4];
		*out++ = digits[bytes[i] & 15];
	}
	return out;
}

static char *put_text(char *out, const char *s)
{
	while (*s)
		*out++ = *s++;
	return out;
}

/* "NSM-ERROR <what>[: <errno>]"; a negative error number is printed in decimal. */
static void fail(const char *what, long err)
{
	char *p = put_text(line, "NSM-ERROR ");
	p = put_text(p, what);
	if (err < 0) {
		char digits[24];
		int n = 0;
		unsigned long v = (unsigned long)-err;
		p = put_text(p, ": errno ");
		do {
			digits[n++] = (char)('0' + v % 10);
			v /= 10;
		} while (v);
		while (n)
			*p++ = digits[--n];
	}
	*p++ = '\n';
	syscall5(SYS_write, 1, (long)line, p - line, 0, 0);
}

/*
 * Find the document in the reply of `got` bytes: check the fixed prefix, then read the
 * byte string's header (major type 2, length inline or in 1, 2 or 4 following bytes),
 * and check the length against what is left. Returns the document's length, or -1.
 */
static long find_document(unsigned long got, const unsigned char **doc)
{
	unsigned long at = sizeof(reply_prefix), size, extra;
	unsigned char head;

	if (got < at + 1)
		return -1;
	for (unsigned long i = 0; i < at; i++)
		if (response[i] != reply_prefix[i])
			return -1;
	head = response[at++];
	if ((head >> 5) != 2)
		return -1;
	head &= 31;
	if (head < 24) {
		size = head;
		extra = 0;
	} else if (head <= 26) {
		extra = 1UL << (head - 24); /* 24: 1 byte, 25: 2, 26: 4 */
		if (got - at < extra)
			return -1;
		size = 0;
		for (unsigned long i = 0; i < extra; i++)
			size = (size << 8) | response[at + i];
	} else {
		return -1; /* 8-byte lengths or indefinite: not from a 0x3000-byte reply */
	}
	at += extra;
	if (size > got - at || size == 0)
		return -1;
	*doc = response + at;
	return (long)size;
}

static void attest(void)
{
	struct nsm_raw raw;
	const unsigned char *doc;
	long fd, rc, size;

	rc = syscall5(SYS_mount, (long)"devtmpfs", (long)"/dev", (long)"devtmpfs", 0, 0);
	if (rc < 0) {
		fail("mount devtmpfs on /dev", rc);
		return;
	}
	fd = syscall5(SYS_open, (long)"/dev/nsm", O_RDWR, 0, 0, 0);
	if (fd < 0) {
		fail("open /dev/nsm (kernel without CONFIG_NSM, or no virtio-nsm device)", fd);
		return;
	}
	raw.request.addr = (unsigned long)request;
	raw.request.len = sizeof(request);
	raw.response.addr = (unsigned long)response;
	raw.response.len = sizeof(response);
	rc = syscall5(SYS_ioctl, fd, NSM_IOCTL_RAW, (long)&raw, 0, 0);
	syscall5(SYS_close, fd, 0, 0, 0, 0);
	if (rc < 0) {
		fail("ioctl NSM_IOCTL_RAW", rc);
		return;
	}
	if (raw.response.len > sizeof(response)) {
		fail("reply longer than the response buffer", 0);
		return;
	}
	size = find_document(raw.response.len, &doc);
	if (size < 0) {
		char *p = put_text(line, "NSM-ERROR reply is not {\"Attestation\": {\"document\": bytes}}: ");
		p = put_hex(p, response, raw.response.len < 64 ? raw.response.len : 64);
		*p++ = '\n';
		syscall5(SYS_write, 1, (long)line, p - line, 0, 0);
		return;
	}
	/* Keep kernel messages off the console while the long line is written. */
	syscall5(SYS_syslog, SYSLOG_ACTION_CONSOLE_LEVEL, 0, 1, 0, 0);
	char *p = put_text(line, "NSM-ATTESTATION ");
	p = put_hex(p, doc, (unsigned long)size);
	*p++ = '\n';
	syscall5(SYS_write, 1, (long)line, p - line, 0, 0);
}

void _start(void)
{
	say("\neifkit attest: asking /dev/nsm for an attestation document\n");
	attest();
	restart_machine("eifkit attest: done, restarting\n");
}
