"""youngvae.bench.systematics: a smoke run of the command line on a tiny geometry.

Timing ratios are not asserted (they depend on the machine and its load): only that every case
is timed, every time is positive and finite, and the plain row is the reference.
"""

from __future__ import annotations

import json
import math

import pytest

from youngvae.bench import systematics as bench
from youngvae.physics import optics
from youngvae.physics import systematics as S


def test_every_case_section_is_a_valid_config_and_each_single_case_switches_one_effect():
    sections = bench.case_sections(optics.Geometry())
    assert list(sections) == [name for name, _ in bench.CASES]
    assert sections["plain"] is None and S.Systematics.from_config(sections["ideal_sample"]).ideal
    for name, section in sections.items():
        if section is None or name == "ideal_sample":
            continue
        assert not S.Systematics.from_config(section).ideal, name
    assert sections["all"]["source"] == {"label_error_nm": 1.0, "bandwidth_nm": 20.0, "spectral_samples": 9}


def test_command_line_times_every_case_and_the_plain_row_is_the_reference(tmp_path, capsys):
    out = tmp_path / "bench.json"
    argv = ["--engines", "fresnel", "--pixels", "32", "--patterns", "2", "--repeats", "1", "--json", str(out)]
    assert bench.main(argv) == 0
    text = capsys.readouterr().out
    assert "load average" in text and "cores" in text and "fresnel (oversample 3)" in text
    result = json.loads(out.read_text())
    rows = result["engines"]["fresnel"]["rows"]
    assert [r["case"] for r in rows] == [name for name, _ in bench.CASES]
    for row in rows:
        assert f"  {row['case']} " in text
        times = row["seconds_per_pattern"] + [row["median_ms"], row["min_ms"], row["max_ms"], row["patterns_per_s"]]
        assert len(row["seconds_per_pattern"]) == 1
        assert all(math.isfinite(t) and t > 0 for t in times), row["case"]
        assert math.isfinite(row["ratio_to_plain"]) and row["ratio_to_plain"] > 0
    by_case = {r["case"]: r for r in rows}
    assert by_case["plain"]["ratio_to_plain"] == 1.0
    assert by_case["plain"]["paired_ratio_min"] == by_case["plain"]["paired_ratio_max"] == 1.0
    bandwidth = by_case["bandwidth"]
    assert bandwidth["spectral_samples"] == 9
    assert bandwidth["ratio_per_spectral_sample"] == pytest.approx(bandwidth["ratio_to_plain"] / 9)
    assert by_case["blur"]["ratio_per_spectral_sample"] is None
    structural = result["engines"]["fresnel"]["structural"]
    assert all(math.isfinite(v) for v in structural.values())
    assert text.count("note:") == 5
