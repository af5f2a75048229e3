"""Metadata JSON exactly as serde_json writes it; bad custom metadata refused clearly."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eifkit.errors import MetadataError
from eifkit.jsonfmt import dumps, format_f64, loads
from eifkit.metadata import (
    BuildInfo,
    Metadata,
    load_custom_metadata,
    parse_kernel_config,
    parse_metadata_section,
)
from tests.conftest import ROOT, VECTORS


@pytest.mark.parametrize(
    "value, text",
    [
        (1e15, "1000000000000000.0"),
        (1e16, "1e16"),
        (1e-7, "1e-7"),
        (0.00001, "0.00001"),
        (1.234e-6, "1.234e-6"),
        (-0.0, "-0.0"),
        (0.0, "0.0"),
        (1000.0, "1000.0"),
        (2.5, "2.5"),
        (0.1, "0.1"),
        (123456.789, "123456.789"),
        (1.8446744073709552e19, "1.8446744073709552e19"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e308"),
        (-1.5e-10, "-1.5e-10"),
        (0.001234, "0.001234"),
        (12345678901234567.0, "1.2345678901234568e16"),
    ],
)
def test_ryu_float_format(value, text):
    assert format_f64(value) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_format_round_trips_and_uses_shortest_digits(x):
    text = format_f64(x)
    assert float(text) == x or (x == 0 and float(text) == 0)
    assert math.copysign(1, float(text)) == math.copysign(1, x)
    assert "+" not in text and "E" not in text

    # shortest digits: same significant digits as Python's repr (both shortest round-trip)
    def sig(s: str) -> str:
        m = s.lstrip("-").split("e")[0].replace(".", "").strip("0")
        return m or "0"

    assert sig(text) == sig(repr(x))


@pytest.mark.parametrize(
    "src, out",
    [
        (b"-0", "-0.0"),
        (b"18446744073709551615", "18446744073709551615"),
        (b"18446744073709551616", "1.8446744073709552e19"),
        (b"-9223372036854775808", "-9223372036854775808"),
        (b"-9223372036854775809", "-9.223372036854776e18"),
        (b"1E3", "1000.0"),
        (b"1.0", "1.0"),
        (b"1.602176634e-19", "1.6021766340000001e-19"),  # serde_json rounds twice
        (b'{"b":1,"a":2,"a":3}', '{"a":3,"b":1}'),
        ('"\u00e9\u2028\x7f"'.encode(), '"\u00e9\u2028\x7f"'),
        (b'"\\u0000\\u001f\\b\\f\\n\\r\\t\\"\\\\/"', '"\\u0000\\u001f\\b\\f\\n\\r\\t\\"\\\\/"'),
        (b'{"\xc3\xa9":1,"z":2,"Z":3}', '{"Z":3,"z":2,"\u00e9":1}'),
        (b" [ ] ", "[]"),
    ],
)
def test_serde_json_reserialization(src, out):
    assert dumps(loads(src)) == out


SERDE_JSON = ROOT / "tests" / "data" / "serde-json"


def _serde_rows(name: str) -> list[list[str]]:
    text = (SERDE_JSON / name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.split("\n") if line]  # U+2028 is not a break


def _ours(text: str) -> str:
    try:
        return dumps(loads(text.encode()))
    except MetadataError as e:
        return f"ERROR {e}"


def test_numbers_are_parsed_exactly_as_serde_json_parses_them():
    """1,600 literals against what the real serde_json wrote (see that folder's README)."""
    rows = _serde_rows("numbers.tsv")
    assert len(rows) == 1600
    wrong, not_correctly_rounded = [], 0
    for literal, expected in rows:
        got = _ours(literal)
        if expected.startswith("ERROR"):
            if not got.startswith("ERROR number out of range"):
                wrong.append((literal, got, expected))
        elif got != expected:
            wrong.append((literal, got, expected))
        elif any(c in literal for c in ".eE"):
            not_correctly_rounded += format_f64(float(literal)) != expected
    assert wrong == []
    # the point of the exercise: a correctly rounding parser would get these wrong
    assert not_correctly_rounded > 100


def test_documents_are_accepted_refused_and_rewritten_as_serde_json_does():
    """800 documents (nesting limits, surrogate escapes, duplicate keys, unicode, bad
    texts) against the real serde_json: the same bytes, or both refuse."""
    rows = _serde_rows("documents.tsv")
    assert len(rows) == 800
    wrong = []
    for document, expected in rows:
        got = _ours(document)
        both_refuse = got.startswith("ERROR") and expected.startswith("ERROR")
        if not both_refuse and got != expected:
            wrong.append((document[:80], got[:80], expected[:80]))
    assert wrong == []
    refused = sum(expected.startswith("ERROR") for _, expected in rows)
    assert 100 < refused < 400  # both kinds are well represented


@pytest.mark.parametrize(
    "src, match",
    [
        (b"1e400000", "number out of range"),
        (b"-1e400", "number out of range"),
        (b"NaN", "not valid JSON"),
        (b"[Infinity]", "not valid JSON"),
        (b'"\\ud800"', "lone UTF-16 surrogate"),
        (b"\xef\xbb\xbf{}", "byte-order mark"),
        (b"{'a': 1}", "not valid JSON"),
        (b"[1,]", "not valid JSON"),
        (b"\xff", "not UTF-8"),
        (b"[" * 128 + b"]" * 128, "nested more than 127 levels deep"),
        (b'{"a":' + b"[" * 127 + b"]" * 127 + b',"a":1}', "nested more than 127 levels deep"),
        (b'{"a":"\\udc00","a":1}', "lone UTF-16 surrogate escape at character 7"),
        (b"", "not valid JSON"),
    ],
)
def test_bad_json_is_refused(src, match):
    with pytest.raises(MetadataError, match=match):
        loads(src)


def test_custom_metadata_vector_matches_aws_bytes():
    custom = load_custom_metadata(VECTORS / "inputs" / "custom-metadata.json")
    data = (VECTORS / "custom-metadata.eif").read_bytes()
    meta = parse_metadata_section(data[40641 + 12 : 40641 + 12 + 444])
    assert meta.custom == custom
    rebuilt = Metadata(
        image_name="meta",
        image_version="meta",
        build_info=BuildInfo("2024-06-21T12:00:00+00:00", "nitro-cli", "1.4.4", "Linux", "6.1.0"),
        custom=custom,
    ).to_bytes()
    assert rebuilt == data[40641 + 12 : 40641 + 12 + 444]


def test_custom_metadata_size_limit(tmp_path):
    p = tmp_path / "m.json"
    p.write_text(json.dumps({"a": "x" * 4087}))
    assert p.stat().st_size == 4096
    assert load_custom_metadata(p)["a"] == "x" * 4087
    p.write_text(json.dumps({"a": "x" * 4088}))
    with pytest.raises(MetadataError, match="4097 bytes, at most 4096"):
        load_custom_metadata(p)
    with pytest.raises(MetadataError, match="found a directory"):
        load_custom_metadata(tmp_path)


def test_kernel_config_line_3(tmp_path):
    p = tmp_path / ".config"
    p.write_text(
        "#\n# Automatically generated file; DO NOT EDIT.\n"
        "# Linux/x86_64 6.1.0-18-amd64 Kernel Configuration\n"
    )
    assert parse_kernel_config(p) == ("Linux", "6.1.0")
    p.write_text("#\n#\n# Linux/arm64 4.14.177-104.253.amzn2.aarch64 Kernel Configuration\n")
    assert parse_kernel_config(p) == ("Linux", "4.14.177")
    p.write_text("only one line\n")
    with pytest.raises(MetadataError, match="fewer than 3 lines"):
        parse_kernel_config(p)


def test_metadata_section_schema_errors():
    with pytest.raises(MetadataError, match="not a JSON object"):
        parse_metadata_section(b"[]")
    with pytest.raises(MetadataError, match="BuildMetadata"):
        parse_metadata_section(b'{"ImageName":"a","ImageVersion":"b"}')
