"""Boot an EIF in QEMU's nitro-enclave machine and read the attestation document its init
prints (examples/attest: one console line `NSM-ATTESTATION <lowercase hex>`).

Started the way ../shared/tools/qemu-eif-check --boot starts it: a vhost-device-vsock
process serving the machine's vsock chardev, then QEMU with -no-reboot so the guest's
restart ends the run. The machine's emulated NSM (virtio-nsm) fills PCR3 and PCR4 from
the `parent-role=` and `parent-id=` machine options.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

QEMU = Path(os.environ.get("EIF_QEMU", "/opt/eif-qemu/bin/qemu-system-x86_64"))
VSOCK = Path(os.environ.get("EIF_VSOCK", str(QEMU.resolve().parent / "vhost-device-vsock")))
ATTESTATION_LINE = re.compile(rb"^NSM-ATTESTATION ([0-9a-f]+)\r?$", re.MULTILINE)
ERROR_LINE = re.compile(rb"^NSM-ERROR .*$", re.MULTILINE)


class NoAttestation(AssertionError):
    """The boot ended without an `NSM-ATTESTATION` line; the message has the console tail."""


def machine_option(parent_role: str | None, parent_id: str | None) -> str:
    """`-M` value: nitro-enclave on chardev c0, with the parent's role ARN and instance id."""
    option = "nitro-enclave,vsock=c0"
    for name, value in (("parent-role", parent_role), ("parent-id", parent_id)):
        if value is not None:
            if "," in value:  # QEMU's option syntax would need ",," escaping
                raise ValueError(f"{name} {value!r} contains a comma")
            option += f",{name}={value}"
    return option


def document_from_console(console: bytes) -> bytes:
    """The document on the one `NSM-ATTESTATION` line, or NoAttestation with the console's tail."""
    found = ATTESTATION_LINE.findall(console)
    if len(found) == 1 and len(found[0]) % 2 == 0:
        return bytes.fromhex(found[0].decode())
    error = ERROR_LINE.search(console)
    if error:
        what = error.group(0).decode(errors="replace")
    elif len(found) == 1:
        what = "an odd number of hex digits"
    else:
        what = f"{len(found)} attestation lines"
    tail = console[-3000:].decode(errors="replace")
    raise NoAttestation(f"no attestation document on the console ({what}); console tail:\n{tail}")


def _wait_for_socket(path: Path, vsock: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while not path.is_socket():
        if vsock.poll() is not None or time.monotonic() > deadline:
            raise NoAttestation(
                f"vhost-device-vsock did not start: {log.read_text(errors='replace')}"
            )
        time.sleep(0.05)


def boot_and_capture(
    eif: Path, parent_role: str | None = None, parent_id: str | None = None, timeout: float = 180
) -> bytes:
    """Boot `eif` under TCG and return the attestation document its init printed."""
    for tool in (QEMU, VSOCK):
        if not tool.is_file():
            raise FileNotFoundError(
                f"no {tool.name} at {tool} (run ../shared/tools/get-qemu-nitro.sh)"
            )
    machine = machine_option(parent_role, parent_id)
    work = Path(tempfile.mkdtemp(prefix="eifkit-nsm-boot."))
    vsock: subprocess.Popen[bytes] | None = None
    try:
        vsock_log = work / "vsock.log"
        with vsock_log.open("wb") as log:
            vsock = subprocess.Popen(
                [str(VSOCK), "--guest-cid", "4", "--socket", str(work / "vhost.sock"),
                 "--uds-path", str(work / "vm.vsock")],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        _wait_for_socket(work / "vhost.sock", vsock, vsock_log)
        console = work / "console.log"
        # on a timeout the console so far tells what happened
        with console.open("wb") as out, contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run(
                [str(QEMU), "-M", machine, "-accel", "tcg", "-m", "1G", "-smp", "2",
                 "-nographic", "-no-reboot", "-kernel", str(eif),
                 "-chardev", f"socket,id=c0,path={work / 'vhost.sock'}"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                timeout=timeout, env={**os.environ, "TMPDIR": str(work)},
            )  # fmt: skip
        return document_from_console(console.read_bytes())
    finally:
        if vsock is not None:
            vsock.kill()
            vsock.wait()
        shutil.rmtree(work, ignore_errors=True)
