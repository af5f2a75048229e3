/*
 * What the examples' init programs share: raw x86_64 Linux system calls (no libc),
 * writing to the console, and restarting the machine so that QEMU's nitro-enclave
 * machine (run with -no-reboot) exits.
 *
 * The machine has no keyboard controller, so the kernel's default reboot method
 * (reboot=k) would loop forever; writing "triple" to /sys/kernel/reboot/type first
 * makes the restart a triple fault instead.
 */
#define SYS_read 0
#define SYS_write 1
#define SYS_open 2
#define SYS_close 3
#define SYS_ioctl 16
#define SYS_exit 60
#define SYS_syslog 103
#define SYS_sync 162
#define SYS_mount 165
#define SYS_reboot 169

#define O_RDONLY 0
#define O_WRONLY 1
#define O_RDWR 2
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

/* Mount sysfs on /sys, ask for a triple-fault restart, say goodbye and restart. */
static void __attribute__((noreturn)) restart_machine(const char *goodbye)
{
	long fd;

	syscall5(SYS_mount, (long)"sysfs", (long)"/sys", (long)"sysfs", 0, 0);
	fd = syscall5(SYS_open, (long)"/sys/kernel/reboot/type", O_WRONLY, 0, 0, 0);
	if (fd >= 0) {
		syscall5(SYS_write, fd, (long)"triple", 6, 0, 0);
		syscall5(SYS_close, fd, 0, 0, 0, 0);
	}
	say(goodbye);
	syscall5(SYS_sync, 0, 0, 0, 0, 0);
	syscall5(SYS_reboot, REBOOT_MAGIC1, REBOOT_MAGIC2, REBOOT_CMD_RESTART, 0, 0);
	syscall5(SYS_exit, 0, 0, 0, 0, 0);
	for (;;)
		;
}
