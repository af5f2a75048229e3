"""Command-line front end: a table of commands, one module each. A command's ``run``
parses its options, calls the library and prints; the work is in the library.

Exit codes: 0 success, 1 a check failed, 2 bad usage or bad input, 3 an internal error
(a bug: one line, no traceback unless EIFKIT_DEBUG is set), 128+N ended by signal N
(SIGINT, SIGTERM, SIGHUP: every temporary output file is removed first).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from types import ModuleType
from typing import TextIO

from .._version import __version__
from ..errors import EifError, LimitError
from ..termination import Terminated, termination_raises
from .common import EXIT_INTERNAL, EXIT_USAGE, LIMIT_FLAGS, PROG, Formatter, error

# name -> module (eifkit.cli.<module>): each has add_parser(sub) and run(args) -> int,
# and may list DASH_VALUE_OPTIONS, options whose value may start with "-".
COMMANDS: dict[str, str] = {
    "build": "build",
    "describe": "describe",
    "pcr": "pcr",
    "sign": "sign",
    "verify": "verify",
    "pcr0-payload": "pcr0_payload",
    "fixtures": "fixtures",
    "check": "check",
    "initramfs": "initramfs",
    "extract": "extract",
    "diff": "diff",
    "attest": "attest",
}

MAIN_HELP = """\
eifkit reads, writes, measures and checks AWS Nitro Enclaves EIF v4 images.

exit codes: 0 success, 1 a check failed, 2 bad usage or bad input,
            3 internal error (a bug in eifkit), 128+N ended by signal N
"""


def command_module(name: str) -> ModuleType:
    return import_module(f"{__name__}.{COMMANDS[name]}")


def make_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of the command ``only`` alone: a run of one
    command imports only that command's module (and what it needs)."""
    parser = argparse.ArgumentParser(prog=PROG, description=MAIN_HELP, formatter_class=Formatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in [only] if only in COMMANDS else COMMANDS:
        command_module(name).add_parser(sub)
    return parser


def _command_named(argv: Sequence[str]) -> str | None:
    """The command argv asks for, when its first argument names one."""
    return argv[0] if argv and argv[0] in COMMANDS else None


def join_dash_values(argv: Sequence[str]) -> list[str]:
    """``--cmd -c`` as ``--cmd=-c`` for the command's DASH_VALUE_OPTIONS, which argparse
    would otherwise read as an option (``sh -c`` is the commonest command)."""
    args = list(argv)
    first = next((i for i, a in enumerate(args) if not a.startswith("-")), None)
    if first is None or args[first] not in COMMANDS:
        return args
    options = getattr(command_module(args[first]), "DASH_VALUE_OPTIONS", ())
    out, i = args[: first + 1], first + 1
    while i < len(args):
        if args[i] == "--":
            out += args[i:]
            break
        if args[i] in options and i + 1 < len(args):
            out.append(f"{args[i]}={args[i + 1]}")
            i += 2
        else:
            out.append(args[i])
            i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = make_parser(_command_named(argv))
    args = parser.parse_args(join_dash_values(argv))
    run: Callable[[argparse.Namespace], int] = command_module(args.command).run
    try:
        with termination_raises():
            return int(run(args))
    except LimitError as e:
        flag = LIMIT_FLAGS.get(e.limit)
        error(f"{e}; {flag} raises it" if flag else f"{e} (a fixed limit of eifkit)")
        return EXIT_USAGE
    except EifError as e:
        error(str(e))
        return EXIT_USAGE
    except BrokenPipeError:
        raise  # the reader of our output went away: see run()
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        error(f"{where}{e.strerror or e}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    except Terminated as e:
        sys.stderr.write(f"{PROG}: terminated by {e.name}\n")
        return e.exit_code
    except Exception as e:
        if os.environ.get("EIFKIT_DEBUG"):
            raise
        detail = " ".join(str(e).split())[:300]
        error(
            f"internal error: {type(e).__name__}: {detail} (a bug in eifkit; "
            "EIFKIT_DEBUG=1 shows where)"
        )
        return EXIT_INTERNAL


class _PipeTolerantStdout(io.TextIOBase):
    """stdout that, once its reader has gone (``eifkit describe x | head -1``), drops
    further output instead of raising, so the command finishes its work and exits with
    its own code (0.1 said "Broken pipe" and exited 2 after a sign that had succeeded)."""

    def __init__(self, inner: TextIO) -> None:
        super().__init__()
        self._inner = inner
        self._gone = False

    def write(self, text: str) -> int:
        if not self._gone:
            try:
                return self._inner.write(text)
            except BrokenPipeError:
                self._reader_gone()
        return len(text)

    def flush(self) -> None:
        if not self._gone:
            try:
                self._inner.flush()
            except BrokenPipeError:
                self._reader_gone()

    def _reader_gone(self) -> None:
        self._gone = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._inner.fileno())  # the interpreter's last flush goes there
        os.close(devnull)


def run() -> None:
    """Console-script entry point."""
    stdout = _PipeTolerantStdout(sys.stdout)
    sys.stdout = stdout
    code = main()
    stdout.flush()
    sys.exit(code)
