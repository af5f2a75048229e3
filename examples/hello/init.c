/*
 * init for the eifkit "hello" example enclave: print a greeting and the kernel
 * command line on the console, then restart the machine, which QEMU's
 * nitro-enclave machine (run with -no-reboot) turns into a clean exit.
 *
 * No libc: raw x86_64 Linux system calls (../init-syscalls.h), so the static binary
 * is ~1 KB. Build: ../build-init.sh examples/hello proc sys
 */
#include "../init-syscalls.h"

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
	restart_machine("eifkit hello: done, restarting\n");
}
