"""Species parameters: shipped values, the factor chain, user overrides and the set's hash."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tanhui.errors import ParameterError
from tanhui.measure.params import default_parameters, load_parameters


def test_fir_factor_matches_the_reference_worked_check():
    # measurement.md: 0.307 × 1.634 × (1 + 0.246) × 0.520 × 44/12 = 1.191745 tCO2e per m³
    params = default_parameters()
    factor = params.tco2e_per_m3()[params.index_of("杉木")]
    assert factor == pytest.approx(0.307 * 1.634 * 1.246 * 0.520 * 44 / 12, rel=1e-15)
    assert round(factor, 6) == 1.191745


@pytest.mark.parametrize(
    ("group", "expected"),
    # tco2e_per_m3 column of shared/reference/species_params.csv (4 decimals there)
    [
        ("马尾松", 1.1199),
        ("桉树", 1.7158),
        ("杨树", 1.2197),
        ("柏木", 1.8888),
        ("栎类", 2.1697),
        ("其他软阔类", 1.6504),
        ("其他硬阔类", 2.2356),
    ],
)
def test_factors_agree_with_the_reference_table(group, expected):
    params = default_parameters()
    assert params.tco2e_per_m3()[params.index_of(group)] == pytest.approx(expected, abs=5e-5)


def test_bamboo_has_a_rate_but_no_volume_factor():
    params = default_parameters()
    i = params.index_of("竹类")
    assert math.isnan(params.tco2e_per_m3()[i])
    assert params.values["default_rate_tco2e_per_mu_yr"][i] == 0.33


def test_every_group_states_its_status_and_source():
    params = default_parameters()
    assert all(params.texts["status"]) and all(params.texts["source"])


def test_override_changes_one_value_and_the_hash(tmp_path):
    base = default_parameters()
    path = tmp_path / "my.csv"
    path.write_text("group_zh,carbon_fraction,source\n杉木,0.5,county survey 2024\n", "utf-8")
    params = load_parameters(path)
    i = params.index_of("杉木")
    assert params.values["carbon_fraction"][i] == 0.5
    assert params.values["bef"][i] == base.values["bef"][i]  # untouched
    assert params.tco2e_per_m3()[i] == pytest.approx(0.307 * 1.634 * 1.246 * 0.5 * 44 / 12)
    assert params.hash != base.hash
    assert params.overrides == ("杉木.carbon_fraction=0.5",)
    assert params.name.endswith("my.csv")


def test_override_may_add_a_group(tmp_path):
    path = tmp_path / "extra.csv"
    path.write_text(
        "group_zh,wood_density_t_per_m3,bef,root_shoot_ratio,carbon_fraction\n油茶,0.6,1.5,0.3,0.48\n",
        "utf-8-sig",
    )
    params = load_parameters(path)
    assert params.tco2e_per_m3()[params.index_of("油茶")] == pytest.approx(
        0.6 * 1.5 * 1.3 * 0.48 * 44 / 12
    )


def test_hash_is_stable_and_ignores_text_columns(tmp_path):
    assert default_parameters().hash == default_parameters().hash
    path = tmp_path / "note.csv"
    path.write_text("group_zh,source\n杉木,another citation\n", "utf-8")
    assert load_parameters(path).hash == default_parameters().hash


def test_export_then_reload_round_trips(tmp_path):
    base = default_parameters()
    path = tmp_path / "all.csv"
    path.write_text(base.to_csv(), "utf-8")
    again = load_parameters(path)
    assert again.hash == base.hash
    for column, values in base.values.items():
        np.testing.assert_array_equal(again.values[column], values)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("group,bef\n杉木,1.5\n", "group_zh"),
        ("group_zh,bef\n杉木,abc\n", "not a number"),
        ("group_zh,bef\n杉木,15\n", "outside"),
        ("group_zh,density\n杉木,0.3\n", "unknown columns"),
        ("group_zh,bef\n,1.5\n", "empty"),
    ],
)
def test_bad_parameter_files_are_refused_with_a_reason(tmp_path, text, needle):
    path = tmp_path / "bad.csv"
    path.write_text(text, "utf-8")
    with pytest.raises(ParameterError) as info:
        load_parameters(path)
    assert needle in info.value.message("en")
    assert info.value.message("zh") != info.value.message("en")


def test_gbk_parameter_file_is_read(tmp_path):
    # 杉木 in GBK (c9bc c4be) is also valid UTF-8 ("ɼľ"): the decoder must not be fooled.
    path = tmp_path / "gbk.csv"
    path.write_bytes("group_zh,bef\n杉木,1.5\n".encode("gbk"))
    params = load_parameters(path)
    assert params.values["bef"][params.index_of("杉木")] == 1.5
    assert len(params.groups) == len(default_parameters().groups)


def test_missing_and_undecodable_files(tmp_path):
    with pytest.raises(ParameterError, match="not found"):
        load_parameters(tmp_path / "nope.csv")
    path = tmp_path / "binary.csv"
    path.write_bytes(b"group_zh,bef\n\xff\xfe\xfa,1.5\n")
    with pytest.raises(ParameterError, match="cannot be decoded"):
        load_parameters(path)


def test_unknown_group_lookup_says_what_to_do():
    with pytest.raises(ParameterError) as info:
        default_parameters().index_of("银杏")
    assert "银杏" in info.value.message("zh")
