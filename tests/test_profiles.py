"""Hardware profiles: the bundled Loihi 2 profile, and every way a user-written profile can be wrong."""
from __future__ import annotations

import math

import pytest

from hw_profiles import Cited, HardwareProfile, ProfileError, available_profiles, load_profile
from hw_profiles.profile import PROFILE_DIR, tomllib
from hw_profiles.schema import SCHEMA


# ---------------------------------------------------------------------------------------------------------
# the bundled profile


def test_loihi2_loads_with_typed_values():
    p = load_profile("loihi2")
    assert isinstance(p, HardwareProfile)
    assert p.name == "loihi2" and p.path == PROFILE_DIR / "loihi2.toml"
    assert "loihi2" in available_profiles()
    # values are the typed Python values, reachable as attributes
    assert p.synapse.weight_bits == 8 and type(p.synapse.weight_bits) is int
    assert p.synapse.weight_exp_min == -7 and p.synapse.weight_exp_max == 7
    assert p.synapse.conv_applies_weight_exp is False
    assert p.neuron.state_bits == 24 and p.neuron.threshold_bits == 17
    assert p.neuron.threshold_shift == 6 and p.neuron.activation_shift == 6
    assert p.neuron.decay_bits == 12 and p.neuron.bias_mant_bits == 13
    assert (p.neuron.bias_exp_min, p.neuron.bias_exp_max) == (0, 7)
    assert p.neuron.reset_by_subtraction is False
    assert p.energy.synop_pj == 23.6 and type(p.energy.synop_pj) is float
    with pytest.raises(AttributeError):
        p.neuron.no_such_field


def test_loading_by_path_equals_loading_by_name():
    by_name = load_profile("loihi2")
    by_path = load_profile(PROFILE_DIR / "loihi2.toml")
    assert by_name.constants() == by_path.constants()


def test_every_constant_has_a_type_a_source_and_a_verified_flag():
    p = load_profile("loihi2")
    consts = dict(p.constants())
    assert set(consts) == {f"{s}.{f}" for s, fields in SCHEMA.items() for f in fields}
    for key, c in consts.items():
        sec, field = key.split(".")
        typ, lo, hi, _ = SCHEMA[sec][field]
        assert isinstance(c, Cited)
        assert type(c.value) is typ, key
        if typ is not bool:
            assert lo <= c.value <= hi, key
        assert isinstance(c.source, str) and c.source.strip(), key
        assert isinstance(c.verified, bool), key
        assert getattr(p, sec).cited(field) is c
    # the bundled profile mixes both kinds (the energy numbers are Loihi 1 proxies)
    flags = {c.verified for c in consts.values()}
    assert flags == {True, False}
    assert consts["energy.synop_pj"].verified is False
    assert consts["neuron.state_bits"].verified is True


def test_cite_marks_unverified_values_only():
    p = load_profile("loihi2")
    for _, c in p.constants():
        text = c.cite()
        assert text.startswith(c.source)
        assert text.endswith(" [UNVERIFIED]") == (not c.verified)
    assert Cited(1, "src", True).cite() == "src"
    assert Cited(1, "src", False).cite() == "src [UNVERIFIED]"


# ---------------------------------------------------------------------------------------------------------
# user-written profiles


def _bundled_raw() -> dict:
    return tomllib.loads((PROFILE_DIR / "loihi2.toml").read_text())


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, float):
        return "nan" if math.isnan(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def dump_toml(raw: dict) -> str:
    lines = [f"{k} = {_toml_value(v)}" for k, v in raw.items() if not isinstance(v, dict)]
    for sec, table in raw.items():
        if isinstance(table, dict):
            lines.append(f"\n[{sec}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def write_profile(tmp_path, raw: dict, name: str = "mychip.toml"):
    path = tmp_path / name
    path.write_text(dump_toml(raw))
    return path


def _error(path) -> str:
    with pytest.raises(ProfileError) as exc:
        load_profile(path)
    msg = str(exc.value)
    assert "\n" not in msg, "profile errors are one line"
    assert str(path) in msg, "the message names the file"
    return msg


def test_a_faithful_copy_loads(tmp_path):
    path = write_profile(tmp_path, _bundled_raw())
    p = load_profile(path)
    assert p.path == path
    assert p.constants() == load_profile("loihi2").constants()


def test_user_profile_values_and_int_to_float_promotion(tmp_path):
    raw = _bundled_raw()
    raw["name"] = "mychip"
    raw["synapse"]["weight_bits"]["value"] = 6
    raw["energy"]["synop_pj"] = {"value": 12, "source": "my lab", "verified": True, "note": "measured"}
    p = load_profile(write_profile(tmp_path, raw))
    assert p.name == "mychip" and p.synapse.weight_bits == 6
    c = p.energy.cited("synop_pj")
    assert c.value == 12.0 and type(c.value) is float  # an integer literal is fine for a float field
    assert c.note == "measured" and c.cite() == "my lab"


def test_missing_field(tmp_path):
    raw = _bundled_raw()
    del raw["neuron"]["threshold_bits"]
    msg = _error(write_profile(tmp_path, raw))
    assert "missing field 'neuron.threshold_bits'" in msg


def test_missing_section(tmp_path):
    raw = _bundled_raw()
    del raw["chip"]
    msg = _error(write_profile(tmp_path, raw))
    assert "missing section [chip]" in msg


def test_missing_top_level_name(tmp_path):
    raw = _bundled_raw()
    del raw["name"]
    msg = _error(write_profile(tmp_path, raw))
    assert "'name'" in msg and "string" in msg


@pytest.mark.parametrize("section, field, value, expect", [
    ("synapse", "weight_bits", "8", "must be int, got str"),
    ("synapse", "weight_bits", 8.0, "must be int, got float"),
    ("synapse", "weight_bits", True, "must be int, got bool"),  # bool is an int subclass in Python: rejected
    ("synapse", "conv_applies_weight_exp", 1, "must be bool, got int"),
    ("energy", "synop_pj", "23.6", "must be float, got str"),
    ("energy", "synop_pj", False, "must be float, got bool"),
])
def test_wrong_type(tmp_path, section, field, value, expect):
    raw = _bundled_raw()
    raw[section][field]["value"] = value
    msg = _error(write_profile(tmp_path, raw))
    assert f"field '{section}.{field}'" in msg and expect in msg


def test_field_that_is_not_a_table(tmp_path):
    raw = _bundled_raw()
    raw["synapse"]["weight_bits"] = 8
    msg = _error(write_profile(tmp_path, raw))
    assert "field 'synapse.weight_bits' must be a table" in msg


@pytest.mark.parametrize("section, field, value, allowed", [
    ("synapse", "weight_bits", 9, "allowed 1..8"),
    ("synapse", "weight_bits", 0, "allowed 1..8"),
    ("synapse", "weight_scale_bits", 7, "allowed 8..8"),
    ("neuron", "state_bits", 64, "allowed 8..32"),
    ("neuron", "bias_exp_max", -17, "allowed -16..16"),
    ("energy", "synop_pj", -1.0, "allowed 0..1e+06"),
    ("energy", "synop_pj", float("nan"), "allowed 0..1e+06"),  # NaN is not a number in any range
    ("core", "neurons_per_core", 0, "allowed 1..1048576"),
    ("core", "population_axon_slots", 17, "allowed 1..16"),
    ("core", "sparse_synapse_overhead_bits", -1, "allowed 0..64"),
    ("neuron", "max_spikes_per_step", 0, "allowed 1..65536"),
    ("chip", "cores_per_chip", 5000, "allowed 1..4096"),
    ("board", "chips_per_board", 0, "allowed 1..65536"),
])
def test_out_of_range(tmp_path, section, field, value, allowed):
    raw = _bundled_raw()
    raw[section][field]["value"] = value
    msg = _error(write_profile(tmp_path, raw))
    assert f"field '{section}.{field}' = {value} is out of range" in msg and allowed in msg


def test_unknown_field_is_rejected_with_the_allowed_ones(tmp_path):
    raw = _bundled_raw()
    raw["neuron"]["treshold_bits"] = {"value": 17, "source": "typo", "verified": True}
    msg = _error(write_profile(tmp_path, raw))
    assert "unknown field 'neuron.treshold_bits'" in msg
    assert "threshold_bits" in msg.split("allowed:")[1]


def test_unknown_section_is_rejected(tmp_path):
    raw = _bundled_raw()
    raw["extras"] = {"foo": {"value": 1, "source": "x", "verified": True}}
    msg = _error(write_profile(tmp_path, raw))
    assert "unknown section or key 'extras'" in msg and "synapse" in msg

    raw = _bundled_raw()
    raw["nueron"] = raw.pop("neuron")
    assert "unknown section or key 'nueron'" in _error(write_profile(tmp_path, raw, "typo.toml"))


@pytest.mark.parametrize("entry, expect", [
    ({"value": 8, "verified": True}, "needs a non-empty 'source'"),
    ({"value": 8, "source": "  ", "verified": True}, "needs a non-empty 'source'"),
    ({"value": 8, "source": "x"}, "needs 'verified = true|false'"),
    ({"value": 8, "source": "x", "verified": "yes"}, "needs 'verified = true|false'"),
    ({"source": "x", "verified": True}, "must be a table { value = ..."),
])
def test_every_value_needs_value_source_and_verified(tmp_path, entry, expect):
    raw = _bundled_raw()
    raw["synapse"]["weight_bits"] = entry
    msg = _error(write_profile(tmp_path, raw))
    assert "'synapse.weight_bits'" in msg and expect in msg


def test_inconsistent_bias_exponents(tmp_path):
    raw = _bundled_raw()
    raw["neuron"]["bias_exp_min"]["value"] = 5
    raw["neuron"]["bias_exp_max"]["value"] = 3
    msg = _error(write_profile(tmp_path, raw))
    assert "neuron.bias_exp_min (5) exceeds bias_exp_max (3)" in msg


def test_threshold_wider_than_the_state(tmp_path):
    raw = _bundled_raw()
    raw["neuron"]["threshold_bits"]["value"] = 20  # 20 + 6 > 24
    msg = _error(write_profile(tmp_path, raw))
    assert "threshold_bits + threshold_shift (20+6)" in msg and "neuron.state_bits (24)" in msg


@pytest.mark.parametrize("content", [
    b'name = "x"\n[synapse\nweight_bits = 8\n',  # unclosed table header
    b'name = "x"\nname = "y"\n',  # duplicate key
    b"\xff\xfe\x00garbage",  # not UTF-8
])
def test_corrupt_toml(tmp_path, content):
    path = tmp_path / "broken.toml"
    path.write_bytes(content)
    msg = _error(path)
    assert "not valid TOML" in msg


def test_unknown_profile_name_lists_the_bundled_ones():
    with pytest.raises(ProfileError) as exc:
        load_profile("loihi7")
    msg = str(exc.value)
    assert "unknown hardware profile 'loihi7'" in msg and "loihi2" in msg and "\n" not in msg


def test_missing_profile_file(tmp_path):
    path = tmp_path / "nowhere.toml"
    assert "does not exist" in _error(path)


def test_profile_error_is_a_value_error():
    assert issubclass(ProfileError, ValueError)



# ---------------------------------------------------------------------------------------------------------
# the bundled chips and boards, per-core limits, and profiles that extend others


def test_bundled_profiles_and_their_boards():
    assert set(available_profiles()) >= {"loihi2", "oheo_gulch", "kapoho_point", "loihi1"}
    l2, og, kp, l1 = (load_profile(n) for n in ("loihi2", "oheo_gulch", "kapoho_point", "loihi1"))
    # loihi2 stays the single-chip default (Oheo Gulch); the boards change only the board
    assert l2.board.chips_per_board == og.board.chips_per_board == 1 and kp.board.chips_per_board == 8
    assert og.extends == kp.extends == "loihi2" and l2.extends is None
    for p in (og, kp):
        assert [(k, c) for k, c in p.constants() if not k.startswith("board.")] == \
               [(k, c) for k, c in l2.constants() if not k.startswith("board.")]
    # Kapoho Point's chip count is contested (4 in Lava's docstring, 8 elsewhere): flagged
    assert kp.board.cited("chips_per_board").verified is False and "four" in kp.board.cited("chips_per_board").source
    # Loihi 1's limits come from nengo-loihi's open compiler: verified
    assert (l1.core.neurons_per_core, l1.core.axons_in, l1.core.axons_out) == (1024, 4096, 4096)
    assert l1.core.synaptic_memory_bits == 16384 * 64 and l1.core.neuron_memory_bits == 0
    assert l1.chip.cores_per_chip == 128 and (l1.neuron.refractory_delay_min, l1.neuron.refractory_delay_max) == (1, 63)
    assert all(l1.core.cited(f).verified for f in l1.core.fields)
    assert l1.synapse.graded_message_bits_max == 1  # Loihi 1 spikes are binary


def test_loihi2_per_core_limits_are_flagged_where_unpublished():
    p = load_profile("loihi2")
    assert (p.core.neurons_per_core, p.core.axons_in, p.core.axons_out) == (8192, 4096, 4096)
    assert p.core.synaptic_memory_bits == 128 * 1024 * 8 and p.chip.cores_per_chip == 120
    for field in ("axons_in", "axons_out", "synaptic_memory_bits", "neuron_memory_bits", "sparse_synapse_overhead_bits"):
        c = p.core.cited(field)
        assert c.verified is False and c.cite().endswith("[UNVERIFIED]")
    # the stand-ins say they are Loihi 1's, used as conservative bounds
    assert "conservative" in p.core.cited("axons_in").source and "Loihi 1" in p.core.cited("axons_in").source
    assert "128" in p.chip.cited("cores_per_chip").source  # the brief's count is named next to Lava's 120
    assert p.neuron.max_spikes_per_step == 1 and p.neuron.refractory_delay_min == 1


def test_a_profile_can_extend_a_bundled_one(tmp_path):
    path = tmp_path / "tight.toml"
    path.write_text('extends = "loihi2"\nname = "tight"\ndescription = "half the memory"\n\n[core]\n'
                    'synaptic_memory_bits = { value = 524288, source = "my budget", verified = false }\n')
    p = load_profile(path)
    assert p.name == "tight" and p.extends == "loihi2" and p.path == path
    assert p.core.synaptic_memory_bits == 524288 and p.core.cited("synaptic_memory_bits").source == "my budget"
    assert p.core.neurons_per_core == 8192 and p.neuron.state_bits == 24  # the rest is inherited
    # extending by path, relative to the extending file, and chains
    (tmp_path / "tighter.toml").write_text('extends = "tight.toml"\nname = "tighter"\ndescription = "x"\n\n'
                                           '[core]\naxons_in = { value = 1024, source = "mine", verified = true }\n')
    q = load_profile(tmp_path / "tighter.toml")
    assert (q.core.axons_in, q.core.synaptic_memory_bits, q.extends) == (1024, 524288, "tight.toml")


def test_an_extending_profile_is_validated_whole(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('extends = "loihi2"\nname = "bad"\ndescription = "x"\n\n[core]\n'
                    'axons_in = { value = 0, source = "typo", verified = true }\n')
    msg = _error(path)
    assert "field 'core.axons_in' = 0 is out of range; allowed 1..16777216" in msg
    # an overriding field is replaced whole, so it needs its own source
    path.write_text('extends = "loihi2"\nname = "bad"\ndescription = "x"\n\n[core]\naxons_in = { value = 10 }\n')
    assert "'core.axons_in' needs a non-empty 'source'" in _error(path)
    path.write_text('extends = "loihi9"\nname = "bad"\ndescription = "x"\n')
    with pytest.raises(ProfileError, match="unknown hardware profile 'loihi9'"):
        load_profile(path)
    path.write_text('extends = 3\nname = "bad"\ndescription = "x"\n')
    assert "'extends' must be a profile name or path" in _error(path)
    path.write_text('extends = "bad.toml"\nname = "bad"\ndescription = "x"\n')
    assert "'extends' loops back to itself" in _error(path)


def test_population_axons_must_be_a_bool_and_refractory_range_ordered(tmp_path):
    raw = _bundled_raw()
    raw["core"]["population_axons"]["value"] = 1
    assert "field 'core.population_axons' must be bool, got int" in _error(write_profile(tmp_path, raw))
    raw = _bundled_raw()
    raw["neuron"]["refractory_delay_min"]["value"] = 10
    raw["neuron"]["refractory_delay_max"]["value"] = 5
    msg = _error(write_profile(tmp_path, raw, "refr.toml"))
    assert "neuron.refractory_delay_min (10) exceeds refractory_delay_max (5)" in msg
