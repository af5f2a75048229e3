"""Print the JSON documents of documents.tsv, one per line, the same every time:
edge cases (nesting limits, surrogate escapes, malformed texts), then seeded random
documents with escapes, unicode, duplicate keys and numbers. See README.md."""

from __future__ import annotations

import random

TOTAL = 800
rnd = random.Random(7)
GOOD = [
    "a", "Z", "é", "\u2028", "\u007f", "😀", "\\u0000", "\\u001f", "\\u001F", "\\b", "\\f",
    "\\n", "\\r", "\\t", '\\"', "\\\\", "\\/", "\\u00e9", "\\u00E9", "\\ud83d\\ude00",
    "\\uD83D\\uDE00", "\\uffff", "\\ufeff", "\u00a0", " ", "0", "\\u2028", "ß", "\uff21\uff22",
]  # fmt: skip
BAD = ["\\ud800", "\\udc00", "\\ud800x", "\\ud800\\u0041"]
NUMBERS = [
    "0", "-0", "1", "-1", "12345678901234567890", "-9223372036854775809", "1.5", "1e3",
    "1E-3", "2.5e+10", "0.1", "123.456e-7", "1e400", "-0.0", "1.602176634e-19",
]  # fmt: skip
EDGES = [
    "[" * 127 + "]" * 127,
    "[" * 128 + "]" * 128,
    '{"a":' * 127 + "1" + "}" * 127,
    '{"a":' * 128 + "1" + "}" * 128,
    "[" * 126 + '{"a":1}' + "]" * 126,
    "[" * 127 + '{"a":1}' + "]" * 127,
    '{"a":' + "[" * 127 + "]" * 127 + ',"a":1}',  # too deep, then dropped as a duplicate
    '{"a":"\\ud800","a":1}',  # a lone surrogate, then dropped as a duplicate
    '"\\ud800\\udc00"', '"\\udbff\\udfff"', '"\\ud800\\u0041"', '"\\udc00\\ud800"', '"\\\\ud800"',
    "\ufeff{}", "01", "-", "1.", ".5", "+1", "1e", "1e+", "[1,]", "1 2", '{"a" 1}', '"\\x"',
    '"\\u12"', "nan", "NaN", "Infinity", "[-Infinity]", "true", "null", " [ ] ", "{}",
    '{"":""}', '{"b":1,"a":2,"a":3}', '{"é":1,"z":2,"Z":3,"":0}', "[1e308, 1e309]",
    '"\u0001"', "[]]", "", " ",
]  # fmt: skip


def string() -> str:
    pieces = [rnd.choice(BAD if rnd.random() < 0.02 else GOOD) for _ in range(rnd.randint(0, 5))]
    return '"' + "".join(pieces) + '"'


def space() -> str:
    return rnd.choice(["", " ", "  "])


def value(depth: int) -> str:
    r = rnd.random()
    if depth > 3 or r < 0.4:
        kind = rnd.randint(0, 2)
        if kind == 0:
            return string()
        return rnd.choice(NUMBERS) if kind == 1 else rnd.choice(["true", "false", "null"])
    if r < 0.7:
        items = [value(depth + 1) for _ in range(rnd.randint(0, 4))]
        return "[" + space() + ("," + space()).join(items) + space() + "]"
    keys = [string() for _ in range(rnd.randint(0, 4))]
    if keys and rnd.random() < 0.3:
        keys.append(rnd.choice(keys))  # a duplicate key: the last one wins
    members = (f"{space()}{k}{space()}:{space()}{value(depth + 1)}" for k in keys)
    return "{" + ",".join(members) + "}"


def main() -> None:
    docs = list(EDGES)
    while len(docs) < TOTAL:
        docs.append(value(0))
    for d in docs:
        assert "\t" not in d and "\n" not in d
    print("\n".join(docs))


if __name__ == "__main__":
    main()
