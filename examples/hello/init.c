/*
 * init for the eifkit "hello" example enclave: print a greeting and the kernel
 * command line on the console, then restart the machine, which QEMU's
 * nitro-enclave machine (run with -no-reboot) turns into a clean exit.
 *
 * No libc: raw x86_64 Linux system calls, so the static binary is ~1.5 KB.
 * The machine has no keyboard controller, so the kernel's default reboot method
 * (reboot=k) would loop forever; writing "triple" to /sys/kernel/reboot/type first
 * makes the restart a triple fault instead.
 *
 * Build: gcc -static -nostdlib -nostartfiles -ffreestanding -Os -fno-stack-protector \
 *            -fno-asynchronous-unwind-tables -Wl,--build-id=none -Wl,-n -s -o init init.c
 */
#define SYS_read 0
#define SYS_write 1
#define SYS_open 2
#define SYS_close 3
#define SYS_exit 60
#define SYS_sync 162
#define SYS_mount 165
#define SYS_reboot 169

#define O_RDONLY 0
#define O_WRONLY 1
#define REBOOT_MAGIC1 0xfee1dead
#define REBOOT_MAGIC2 672274793
#define REBOOT_CMD_RESTART 0x01234567

static long syscall5(long n, long a, long b, long c, long d, long e)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}

static long length(const char *s)
{
	long n = 0;
	while (s[n])
		n++;
	return n;
}

static void say(const char *s)
{
	syscall5(SYS_write, 1, (long)s, length(s), 0, 0);
}

void _start(void)
{
	static char cmdline[4096];
	long n, fd;

	say("\nHello from an enclave image built by eifkit!\n");
	syscall5(SYS_mount, (long)"proc", (long)"/proc", (long)"proc", 0, 0);
	fd = syscall5(SYS_open, (long)"/proc/cmdline", O_RDONLY, 0, 0, 0);
	if (fd >= 0) {
		n = syscall5(SYS_read, fd, (long)cmdline, sizeof(cmdline) - 1, 0, 0);
		if (n > 0) {
			cmdline[n] = 0;
			say("kernel cmdline: ");
			say(cmdline);
		}
		syscall5(SYS_close, fd, 0, 0, 0, 0);
	}
	syscall5(SYS_mount, (long)"sysfs", (long)"/sys", (long)"sysfs", 0, 0);
	fd = syscall5(SYS_open, (long)"/sys/kernel/reboot/type", O_WRONLY, 0, 0, 0);
	if (fd >= 0) {
		syscall5(SYS_write, fd, (long)"triple", 6, 0, 0);
		syscall5(SYS_close, fd, 0, 0, 0, 0);
	}
	say("eifkit hello: done, restarting\n");
	syscall5(SYS_sync, 0, 0, 0, 0, 0);
	syscall5(SYS_reboot, REBOOT_MAGIC1, REBOOT_MAGIC2, REBOOT_CMD_RESTART, 0, 0);
	syscall5(SYS_exit, 0, 0, 0, 0, 0);
	for (;;)
		;
}
