import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vgrad_gui.core.spec import (
    FIELDS,
    Config,
    ConfigError,
    load_config,
    parse_config_text,
    validate_each,
)


def test_empty_object_is_a_valid_config_with_defaults():
    assert Config.from_dict({}) == Config()


def test_json_round_trip():
    cfg = Config(depth=7, activation="relu", init="he_normal", residual=True, lr=0.05)
    assert parse_config_text(cfg.to_json()) == cfg


def test_int_given_as_whole_float_is_accepted():
    assert Config.from_dict({"depth": 12.0}).depth == 12


@pytest.mark.parametrize(
    ("data", "key", "fragment"),
    [
        ({"depth": 0}, "depth", "from 1 to 200"),
        ({"depth": 201}, "depth", "from 1 to 200"),
        ({"depth": "ten"}, "depth", "an integer"),
        ({"depth": True}, "depth", "an integer"),
        ({"depth": 2.5}, "depth", "an integer"),
        ({"width": 2000}, "width", "from 1 to 1024"),
        ({"lr": 0}, "lr", "greater than 0"),
        ({"lr": -1}, "lr", "greater than 0"),
        ({"activation": "sigmod"}, "activation", "did you mean 'sigmoid'"),
        ({"init": "he"}, "init", "one of default"),
        ({"residual": "yes"}, "residual", "true or false"),
        ({"batch_size": 0}, "batch_size", "from 1 to 65536"),
        ({"dataset": "mnist"}, "dataset", "digits"),
        ({"device": "tpu"}, "device", "auto, cpu, cuda, mps"),
        ({"dept": 3}, "dept", "did you mean 'depth'"),
    ],
)
def test_bad_values_name_key_value_and_what_is_allowed(data, key, fragment):
    with pytest.raises(ConfigError) as err:
        Config.from_dict(data)
    text = str(err.value)
    assert f"'{key}'" in text
    assert json.dumps(next(iter(data.values()))) in text
    assert fragment in text
    assert err.value.key == key


def test_not_an_object():
    with pytest.raises(ConfigError, match="must be a JSON object, got a list"):
        parse_config_text("[1, 2]")


def test_not_json(tmp_path):
    path = tmp_path / "c.json"
    path.write_text("{depth: 3}")
    with pytest.raises(ConfigError, match=r"c\.json: not valid JSON"):
        load_config(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.json")


def test_validate_each_reports_every_bad_key_at_once():
    problems = validate_each({"depth": 0, "width": 5000, "activation": "relu"})
    assert set(problems) == {"depth", "width"}
    assert "from 1 to 200" in problems["depth"]


values = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**9), 10**9),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.lists(st.integers(), max_size=2), st.sampled_from(
        [c for f in FIELDS for c in f.choices]),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([f.name for f in FIELDS] + ["bogus"]), values,
                       max_size=5))
def test_any_input_is_either_valid_or_a_clear_config_error(data):
    try:
        cfg = Config.from_dict(data)
    except ConfigError as exc:
        assert exc.key in data
        assert f"'{exc.key}'" in str(exc)
        assert "allowed" in str(exc)
    else:
        for key, value in data.items():
            assert getattr(cfg, key) == value
        assert Config.from_dict(cfg.to_dict()) == cfg


def test_one_line_escapes_control_characters_and_cuts():
    from vgrad_gui.core.spec import one_line

    assert one_line("a\nb\r\x00c\u2028") == "a\\nb\\r\\x00c\\u2028"
    cut = one_line("x" * 1000, 50)
    assert len(cut) == 50 and cut.endswith("...")


def test_a_source_path_with_a_newline_stays_on_one_line(tmp_path):
    path = tmp_path / "odd\nname.json"
    path.write_text("{")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "\n" not in str(err.value) and "odd\\nname.json: not valid JSON" in str(err.value)
