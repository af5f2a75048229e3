"""JSON parsed and written the way Rust's serde_json does it.

AWS's tools write the metadata section with serde_json, and re-serialize a user's
custom metadata through ``serde_json::Value``. To reproduce their bytes:

- parsing: integers that fit u64 (or i64 when negative) stay integers; every other
  number, and ``-0``, becomes an f64, computed exactly as serde_json's default parser
  does (:func:`serde_number`); a number out of f64 range is an error; NaN and
  Infinity are not JSON; lone UTF-16 surrogate escapes are errors; duplicate keys:
  the last one wins; containers nested more than 127 deep are an error (serde_json's
  recursion limit).
- writing: object keys sorted (serde_json's default ``BTreeMap``) unless a key
  order is asked for; strings as raw UTF-8 with ``"``, ``\\``, ``\\b \\f \\n \\r \\t``
  escaped and other control characters as lowercase ``\\u00XX``; f64 in ryu's
  shortest form (``1000.0``, ``1e16``, ``1e-7``, ``0.00001``, ``1.234e-6``, ``-0.0``).
"""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import MetadataError

U64_MAX = (1 << 64) - 1
I64_MIN = -(1 << 63)
MAX_DEPTH = 127  # serde_json fails when a container opens at depth 128


class OrderedObject(dict[str, Any]):
    """A JSON object written in insertion order instead of sorted (struct fields)."""


I32_MAX = (1 << 31) - 1
I32_MIN = -(1 << 31)
# serde_json's POW10 table: the f64 nearest to each power of ten up to 1e308.
_POW10 = tuple(float(f"1e{i}") for i in range(309))


def _f64_from_parts(negative: bool, significand: int, exponent: int, text: str) -> float:
    """``significand`` (a u64) times ten to ``exponent`` (an i32), as serde_json's default
    (not ``float_roundtrip``) parser computes it: one conversion to f64, then one
    multiplication or division by a power of ten from its table (or by 1e308 first,
    for exponents past -308). This rounds twice, so for long mantissas it can differ
    from the correctly rounded value by an ULP; AWS's tools write what it gives."""
    f = float(significand)
    while True:
        if abs(exponent) < len(_POW10):
            if exponent >= 0:
                f *= _POW10[exponent]
                if math.isinf(f):
                    raise MetadataError(f"number out of range: {text[:40]}")
            else:
                f /= _POW10[-exponent]
            break
        if f == 0.0:
            break
        if exponent >= 0:
            raise MetadataError(f"number out of range: {text[:40]}")
        f /= 1e308
        exponent += 308
    return -f if negative else f


def serde_number(text: str) -> int | float:
    """A JSON number literal as ``serde_json::Value`` holds it: a u64, a negative i64,
    or an f64 got exactly the way serde_json gets it (see :func:`_f64_from_parts`).

    serde_json keeps at most as many leading digits as fit a u64: further digits of
    the integer part only raise the exponent, further fraction digits are dropped,
    and the first fraction digit that still fits is kept even after integer digits
    were dropped. An exponent beyond i32 gives 0 (when negative or the significand is
    0) or an error.
    """
    negative = text.startswith("-")
    body = text[1:] if negative else text
    mantissa, e, exp_text = body.replace("E", "e").partition("e")
    int_digits, dot, frac_digits = mantissa.partition(".")
    significand, exponent, overflowed = 0, 0, False
    for ch in int_digits:
        digit = ord(ch) - 48
        if overflowed or significand * 10 + digit > U64_MAX:
            overflowed = True
            exponent += 1  # the digit is dropped
        else:
            significand = significand * 10 + digit
    if not dot and not e and not overflowed:
        if not negative:
            return significand
        if 0 < significand <= -I64_MIN:
            return -significand
        return -float(significand)  # -0 and below i64: f64, rounded once
    for ch in frac_digits:
        digit = ord(ch) - 48
        if significand * 10 + digit > U64_MAX:
            break  # this and all further fraction digits are dropped
        significand = significand * 10 + digit
        exponent -= 1
    if e:
        exp_negative = exp_text.startswith("-")
        digits = exp_text.lstrip("+-")
        value = 0
        for ch in digits:
            value = value * 10 + ord(ch) - 48
            if value > I32_MAX:
                if significand != 0 and not exp_negative:
                    raise MetadataError(f"number out of range: {text[:40]}")
                return -0.0 if negative else 0.0
        exponent = exponent - value if exp_negative else exponent + value
        exponent = max(I32_MIN, min(I32_MAX, exponent))  # i32 saturating arithmetic
    return _f64_from_parts(negative, significand, exponent, text)


def _reject_constant(name: str) -> Any:
    raise MetadataError(f"{name} is not valid JSON")


def _scan(text: str) -> None:
    """Refuse what serde_json refuses but Python's json accepts, in text order:

    - containers nested 128 deep (serde_json's recursion limit: at most 127);
    - a ``\\u`` escape of a UTF-16 surrogate that is not a high one followed at once
      by an escaped low one.

    This looks at the text, not the parsed value, because a duplicate key can drop a
    value Python has parsed, where serde_json has already failed on it. The text
    must be valid JSON (``json.loads`` accepted it).
    """
    depth, i, n = 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise MetadataError(
                    f"JSON nested more than {MAX_DEPTH} levels deep (serde_json's limit) "
                    f"at character {i + 1}"
                )
        elif ch in "]}":
            depth -= 1
        elif ch == '"':
            i += 1
            while text[i] != '"':
                if text[i] != "\\":
                    i += 1
                    continue
                if text[i + 1] != "u":
                    i += 2
                    continue
                unit = int(text[i + 2 : i + 6], 16)
                if 0xD800 <= unit <= 0xDBFF:
                    escaped = text[i + 6 : i + 8] == "\\u"
                    low = int(text[i + 8 : i + 12], 16) if escaped else -1
                    if not 0xDC00 <= low <= 0xDFFF:
                        raise MetadataError(
                            f"lone UTF-16 surrogate escape at character {i + 1} (serde_json "
                            "needs a high surrogate escape followed by a low one)"
                        )
                    i += 12
                elif 0xDC00 <= unit <= 0xDFFF:
                    raise MetadataError(f"lone UTF-16 surrogate escape at character {i + 1}")
                else:
                    i += 6
        i += 1


def loads(data: bytes, *, max_values: int | None = None) -> Any:
    """Parse JSON bytes as serde_json would into a ``serde_json::Value``.

    ``max_values`` bounds the memory a hostile text can make Python spend (16 MiB of
    ``[0,0,...]`` is 8 million objects): a text with more separators (``,`` and ``:``,
    counted before parsing, inside strings too) than that is refused."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise MetadataError(f"not UTF-8 at byte {e.start}") from None
    if max_values is not None:
        separators = text.count(",") + text.count(":")
        if separators > max_values:
            raise MetadataError(
                f"holds {separators} ',' and ':' separators, more than the {max_values} "
                "JSON values eifkit parses"
            )
    if text.startswith("\ufeff"):
        raise MetadataError("starts with a byte-order mark, which JSON does not allow")
    try:
        value = json.loads(
            text,
            parse_int=serde_number,
            parse_float=serde_number,
            parse_constant=_reject_constant,
        )
    except json.JSONDecodeError as e:
        raise MetadataError(
            f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}"
        ) from None
    except RecursionError:
        raise MetadataError(
            f"JSON nested more than {MAX_DEPTH} levels deep (serde_json's limit)"
        ) from None
    _scan(text)
    return value


_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def _string(s: str) -> str:
    out = ['"']
    for ch in s:
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def format_f64(value: float) -> str:
    """Format a finite float as ryu (and so serde_json) does."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError("serde_json cannot write NaN or infinity")
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    # repr gives the shortest round-tripping digits, as ryu does.
    mantissa, _, exp_text = repr(abs(value)).partition("e")
    whole, _, frac = mantissa.partition(".")
    all_digits = whole + frac
    stripped = all_digits.lstrip("0")
    lead_zeros = len(all_digits) - len(stripped)
    digits = stripped.rstrip("0")
    length = len(digits)
    kk = len(whole) + int(exp_text or 0) - lead_zeros  # 10^(kk-1) <= value < 10^kk
    k = kk - length  # value = digits * 10^k
    if k >= 0 and kk <= 16:
        body = digits + "0" * k + ".0"
    elif 0 < kk <= 16:
        body = digits[:kk] + "." + digits[kk:]
    elif -5 < kk <= 0:
        body = "0." + "0" * (-kk) + digits
    elif length == 1:
        body = f"{digits}e{kk - 1}"
    else:
        body = f"{digits[0]}.{digits[1:]}e{kk - 1}"
    return sign + body


def dumps(value: Any, *, indent: int | None = None) -> str:
    """Write a value as serde_json does: compact, or pretty with ``indent`` spaces."""
    parts: list[str] = []
    _dump(value, parts, indent, 0)
    return "".join(parts)


def _dump(value: Any, out: list[str], indent: int | None, level: int) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(format_f64(value))
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, (list, tuple)):
        _container("[", "]", [(None, v) for v in value], out, indent, level)
    elif isinstance(value, dict):
        items = list(value.items())
        if not isinstance(value, OrderedObject):
            items.sort(key=lambda kv: kv[0].encode("utf-8"))
        _container("{", "}", items, out, indent, level)
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _container(
    open_: str,
    close: str,
    items: list[tuple[str | None, Any]],
    out: list[str],
    indent: int | None,
    level: int,
) -> None:
    out.append(open_)
    if not items:
        out.append(close)
        return
    for n, (key, v) in enumerate(items):
        if n:
            out.append(",")
        if indent is not None:
            out.append("\n" + " " * (indent * (level + 1)))
        if key is not None:
            out.append(_string(key))
            out.append(": " if indent is not None else ":")
        _dump(v, out, indent, level + 1)
    if indent is not None:
        out.append("\n" + " " * (indent * level))
    out.append(close)
