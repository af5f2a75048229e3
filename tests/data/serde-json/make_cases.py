"""Print the JSON number literals of numbers.tsv, one per line, the same every time:
the edge cases in hand_cases.txt, then seeded random ones. See README.md."""

from __future__ import annotations

import random
import struct
from pathlib import Path

TOTAL = 1600
rnd = random.Random(20261127)


def digits(n: int, first_nonzero: bool = True) -> str:
    d = "".join(rnd.choice("0123456789") for _ in range(n))
    if first_nonzero and d and d[0] == "0":
        d = rnd.choice("123456789") + d[1:]
    return d


def random_literal() -> str | None:
    kind = rnd.random()
    sign = "-" if rnd.random() < 0.3 else ""
    if kind < 0.35:  # long mantissas with a fraction
        return f"{sign}{digits(rnd.randint(1, 22))}.{digits(rnd.randint(1, 25), False)}"
    if kind < 0.6:  # mantissa and exponent
        ip = digits(rnd.randint(1, 21))
        fp = digits(rnd.randint(0, 20), False)
        return f"{sign}{ip}{'.' + fp if fp else ''}e{rnd.randint(-360, 330)}"
    if kind < 0.75:  # 0.000ddd
        return f"{sign}0.{'0' * rnd.randint(0, 30)}{digits(rnd.randint(1, 22))}"
    if kind < 0.85:  # long integers
        return f"{sign}{digits(rnd.randint(18, 40))}"
    # shortest repr or 15-25 digits of a random double
    x = struct.unpack("<d", struct.pack("<Q", rnd.getrandbits(64)))[0]
    if x != x or x in (float("inf"), float("-inf")):
        return None
    literal = repr(x)
    if rnd.random() < 0.5:
        literal = f"{x:.{rnd.randint(15, 25)}e}"
    return literal


def main() -> None:
    cases = Path(__file__).with_name("hand_cases.txt").read_text().split()
    while len(cases) < TOTAL:
        literal = random_literal()
        if literal is not None:
            cases.append(literal)
    print("\n".join(cases))


if __name__ == "__main__":
    main()
