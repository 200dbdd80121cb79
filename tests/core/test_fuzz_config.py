"""Property-based fuzzing of config input: whatever the text, parsing gives a valid Config or a
one-line ConfigError, never another exception; a parsed config then goes through the budget
check the same way. Bounded example counts keep this to seconds in CI."""

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vgrad_gui.core.budget import check_budget
from vgrad_gui.core.spec import (
    FIELDS,
    MAX_MESSAGE,
    Config,
    ConfigError,
    load_config,
    parse_config_text,
    validate_each,
)

NAMES = [f.name for f in FIELDS]
CHOICES = [c for f in FIELDS for c in f.choices]
FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    | st.sampled_from(CHOICES),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=8,
)

# Value texts a JSON encoder would never write, or would write only for odd values.
odd_literals = st.one_of(
    st.integers(1, 5000).map(lambda n: "9" * n),  # past the float range, past int() limits
    st.integers(1, 500).map(lambda n: "-1" + "0" * n + ".5"),
    st.integers(1, 400).map(lambda n: "1e" + "9" * n),
    st.integers(1, 400).map(lambda n: "0." + "0" * n + "1"),
    st.sampled_from(["-0.0", "-0", "0e0", "NaN", "Infinity", "-Infinity", "1E400", "4.9e-324",
                     "2147483648", "2147483647", "1.0", "100000000", "100000001", "true"]),
    st.integers(1, 2000).map(lambda n: "[" * n + "1" + "]" * n),
    st.integers(1, 2000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.sampled_from(['"\\ud800"', '"a\\nb"', '"\\u0000"', '"\\u2028"', '"sigmoid\\t"']),
    st.text(max_size=30),  # not JSON at all, usually
)
value_texts = st.one_of(json_values.map(json.dumps), odd_literals)
keys = st.one_of(st.sampled_from(NAMES), st.text(max_size=10),
                 st.integers(0, 20_000).map(lambda n: "k\n" * n))


@st.composite
def config_texts(draw):
    pairs = draw(st.lists(st.tuples(keys, value_texts), max_size=6))
    body = ", ".join(f"{json.dumps(k)}: {v}" for k, v in pairs)
    text = "{" + body + "}"
    if draw(st.booleans()):
        return text
    # Damage the text: cut it, or wrap it, or use something else entirely.
    how = draw(st.sampled_from(["cut", "wrap", "raw"]))
    if how == "cut":
        return text[: draw(st.integers(0, len(text)))]
    if how == "wrap":
        return "[" + text + "]"
    return draw(value_texts)


def assert_one_line(exc: ConfigError) -> None:
    text = str(exc)
    assert len(text) <= MAX_MESSAGE
    assert not any(ord(c) < 0x20 or c in "\x7f\x85\u2028\u2029" for c in text), repr(text)


def check_valid(cfg: Config) -> None:
    for f in FIELDS:
        assert f.check(getattr(cfg, f.name)) == getattr(cfg, f.name)
    assert Config.from_dict(cfg.to_dict()) == cfg
    assert not math.copysign(1.0, cfg.noise) < 0
    try:
        warnings = check_budget(cfg, available=8 * 2**30)
    except ConfigError as exc:
        assert_one_line(exc)
        assert "available" in str(exc)
    else:
        for w in warnings:
            assert isinstance(w, str) and "\n" not in w and len(w) <= MAX_MESSAGE


@FUZZ
@given(config_texts())
def test_any_text_parses_to_a_valid_config_or_a_one_line_config_error(text):
    try:
        cfg = parse_config_text(text, source="fuzz.json")
    except ConfigError as exc:
        assert_one_line(exc)
        assert str(exc).startswith("fuzz.json: ")
    else:
        check_valid(cfg)


@FUZZ
@given(st.dictionaries(st.one_of(st.sampled_from(NAMES), st.text(max_size=8)),
                       st.one_of(json_values,
                                 st.integers(0, 5000).map(lambda n: -(10**n)),
                                 st.integers(0, 5000).map(lambda n: 10**n),
                                 st.integers(0, 10).map(lambda n: [[[[[0]]]]] * n)),
                       max_size=6))
def test_from_dict_agrees_with_validate_each(data):
    """The GUI's builder shows validate_each; it must accept exactly what Config accepts."""
    problems = validate_each(data)
    try:
        cfg = Config.from_dict(data)
    except ConfigError as exc:
        assert_one_line(exc)
        assert problems, f"validate_each found nothing wrong, Config.from_dict said: {exc}"
        assert all("\n" not in m and len(m) <= MAX_MESSAGE for m in problems.values())
    else:
        assert problems == {}
        check_valid(cfg)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=200))
def test_any_file_content_loads_or_gives_a_one_line_config_error(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("fuzz") / "c.json"
    path.write_bytes(raw)
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        assert_one_line(exc)
    else:
        check_valid(cfg)


@settings(max_examples=100, deadline=None)
@given(st.fixed_dictionaries({f.name: (
    st.sampled_from(f.choices) if f.kind == "choice" else st.booleans() if f.kind == "bool"
    else st.integers(int(f.minimum or 0), int(f.maximum or 10**8)) if f.kind == "int"
    else st.floats(f.minimum or 0, f.maximum or 1, exclude_min=f.exclusive_minimum))
    for f in FIELDS}), st.integers(0, 2**40))
def test_budget_refuses_or_warns_in_one_line(values, available):
    try:
        cfg = Config.from_dict(values)
    except ConfigError as exc:  # only the cross-field rules can refuse these
        assert exc.key == "batch_size"
        return
    try:
        warnings = check_budget(cfg, available=available)
    except ConfigError as exc:
        assert_one_line(exc)
        assert "available" in str(exc) and "needs about" in str(exc)
    else:
        assert all("\n" not in w and len(w) <= MAX_MESSAGE for w in warnings)
