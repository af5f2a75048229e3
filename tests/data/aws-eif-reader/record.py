"""Run AWS's EifReader::from_eif (the harness, built as README.md says) on every
fixture of `eifkit fixtures` and print verdicts.tsv: case id, the fixture's sha256,
ACCEPT/REJECT/PANIC/ABORT, and the reader's message (for PANIC the panic message,
for ABORT the allocator's line, for ACCEPT whether check_crc() held).

    python3 tests/data/aws-eif-reader/record.py HARNESS_BINARY > verdicts.tsv
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def outcome(binary: str, eif: Path) -> tuple[str, str]:
    r = subprocess.run([binary, str(eif)], capture_output=True, text=True, timeout=120)
    if r.returncode == 0:
        _path, verdict, message = r.stdout.rstrip("\n").split("\t", 2)
        return verdict, message
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    if r.returncode == 101:  # a Rust panic: "thread 'main' ... panicked at ...:" then the message
        return "PANIC", lines[1] if len(lines) > 1 else ""
    return "ABORT", lines[0] if lines else f"exit {r.returncode}"


def main() -> None:
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "eifkit", "fixtures", "-o", tmp], check=True,
                       capture_output=True)  # fmt: skip
        manifest = json.loads((Path(tmp) / "manifest.json").read_text())
        for case in manifest["cases"]:
            eif = Path(tmp) / case["file"]
            digest = hashlib.sha256(eif.read_bytes()).hexdigest()
            verdict, message = outcome(binary, eif)
            print(f"{case['id']}\t{digest}\t{verdict}\t{message}")


if __name__ == "__main__":
    main()
