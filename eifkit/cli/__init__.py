"""Command-line front end: a table of commands, one module each. A command's ``run``
parses its options, calls the library and prints; the work is in the library.

Exit codes: 0 success, 1 a check failed, 2 bad usage or bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from types import ModuleType

from .._version import __version__
from ..errors import EifError
from .common import EXIT_OK, EXIT_USAGE, PROG, Formatter, error

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
}

MAIN_HELP = """\
eifkit reads, writes, measures and checks AWS Nitro Enclaves EIF v4 images.

exit codes: 0 success, 1 a check failed, 2 bad usage or bad input
"""


def command_module(name: str) -> ModuleType:
    return import_module(f"{__name__}.{COMMANDS[name]}")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=MAIN_HELP, formatter_class=Formatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        command_module(name).add_parser(sub)
    return parser


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
    parser = make_parser()
    args = parser.parse_args(join_dash_values(sys.argv[1:] if argv is None else argv))
    run: Callable[[argparse.Namespace], int] = command_module(args.command).run
    try:
        return int(run(args))
    except EifError as e:
        error(str(e))
        return EXIT_USAGE
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        error(f"{where}{e.strerror or e}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130


def run() -> None:
    """Console-script entry point."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = EXIT_OK
    sys.exit(code)
