"""Property tests: any parseable layout survives read -> write byte for byte."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eifkit import measure_image, read, write
from tests import naive


@st.composite
def layouts(draw):
    n = draw(st.integers(0, 8))
    sections = [
        naive.RawSection(
            type=draw(st.sampled_from([0, 1, 2, 3, 3, 5, 6, 7, 0xFFFF])),
            data=draw(st.binary(max_size=200)),
            flags=draw(st.sampled_from([0, 0, 0, 1, 0x8000])),
        )
        for _ in range(n)
    ]
    gaps = [draw(st.integers(0, 40)) for _ in range(n)]
    order = draw(st.permutations(list(range(n))))
    # place sections in file order with gaps, then list them in the table in `order`
    file_offsets, pos = [], 548
    for s, g in zip(sections, gaps, strict=False):
        pos += g
        file_offsets.append(pos)
        pos += 12 + len(s.data)
    trailing = draw(st.integers(0, 40))
    table_sections = [sections[i] for i in order]
    table_offsets = [file_offsets[i] for i in order]
    return dict(
        sections=table_sections,
        offsets=table_offsets,
        file_size=pos + trailing,
        version=draw(st.sampled_from([4, 4, 3, 5])),
        flags=draw(st.sampled_from([0, 1, 2])),
        reserved=draw(st.sampled_from([0, 7])),
        unused=draw(st.sampled_from([0, 0xDEADBEEF])),
        fill=draw(st.integers(0, 255)),
        crc=draw(st.sampled_from([None, None, 12345])),
    )


def _settings(n: int):
    return settings(
        max_examples=n, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )


def _read_assembled(layout, tmp_path):
    data = naive.assemble(**layout)
    src = tmp_path / "in.eif"
    src.write_bytes(data)
    return data, read(src, strict=False)


@_settings(150)
@given(layout=layouts())
def test_lenient_read_write_original_is_byte_identical(layout, tmp_path):
    data, image = _read_assembled(layout, tmp_path)
    out = tmp_path / "out.eif"
    write(image, out, layout="original")
    assert out.read_bytes() == data

    m = measure_image(image)
    assert m.crc32 == naive.crc_of_file(data)
    expected = naive.pcrs_of_file(data)
    assert (m.pcr0.hex(), m.pcr1.hex(), m.pcr2.hex()) == (
        expected["PCR0"],
        expected["PCR1"],
        expected["PCR2"],
    )
    assert (image.stored_crc == m.crc32) == (layout["crc"] is None)


@_settings(80)
@given(layout=layouts())
def test_canonical_write_is_contiguous_in_aws_order_with_a_correct_crc(layout, tmp_path):
    _data, image = _read_assembled(layout, tmp_path)
    out = tmp_path / "out.eif"
    result = write(image, out, layout="canonical")
    written = out.read_bytes()
    assert len(written) == 548 + sum(12 + len(s.data) for s in layout["sections"])
    assert naive.crc_of_file(written) == result.crc32 == int.from_bytes(written[544:548], "big")
    again = read(out, strict=False)
    rank = {1: 0, 2: 1, 5: 2, 3: 3, 4: 4}
    ranks = [rank.get(s.type, 5) for s in again.sections]
    assert ranks == sorted(ranks)
    assert not again.fillers
    expected = naive.pcrs_of_file(written)
    assert result.measurements.pcr0.hex() == expected["PCR0"]
    assert result.measurements.pcr2.hex() == expected["PCR2"]
