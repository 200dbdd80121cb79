"""Setups as strings and files: round trips, lengths, tolerated pasting, every hostile input
refused with one SetupError line, and fuzzing that finds no other exception."""

import base64
import json
import os
import re
import tracemalloc
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vgrad_gui.core import setups
from vgrad_gui.core.lessons import load_shipped, shipped_lessons
from vgrad_gui.core.presets import all_presets, get_preset
from vgrad_gui.core.setups import (
    MAX_JSON_BYTES,
    MAX_SETUP_MESSAGE,
    MAX_STRING_CHARS,
    PREFIX,
    VIEW_KEYS,
    Setup,
    SetupError,
    describe,
    from_string,
    load_setup,
    save_setup,
    to_string,
)
from vgrad_gui.core.spec import Config

SIGMOID = get_preset("deep_sigmoid").config
RELU_HE = get_preset("relu_he").config
LESSON = "vanishing_gradients"
URL_SAFE = re.compile(r"vgrad1:[A-Za-z0-9_-]+")


def pack(body: str | bytes, zdict: bool = True, level: int = 9) -> str:
    """A vgrad1 string around any body, the way to_string packs JSON."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if zdict:
        packer = zlib.compressobj(level, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY,
                                  setups._ZDICT)
    else:
        packer = zlib.compressobj(level)
    return PREFIX + base64.urlsafe_b64encode(packer.compress(raw) + packer.flush()).decode()


def refused(text: str) -> str:
    with pytest.raises(SetupError) as info:
        from_string(text)
    message = str(info.value)
    assert "\n" not in message and len(message) <= MAX_SETUP_MESSAGE
    assert message.startswith("setup string: ")
    return message


# -- round trips and lengths ----------------------------------------------------------------------
@pytest.mark.parametrize("preset", [p.name for p in all_presets()])
def test_each_preset_network_round_trips_in_a_short_url_safe_string(preset):
    setup = Setup(runs=(get_preset(preset).config,))
    text = to_string(setup)
    assert URL_SAFE.fullmatch(text), text
    assert len(text) < 50, (preset, len(text), text)
    assert from_string(text) == setup


def test_a_four_run_comparison_with_labels_views_speed_and_theme_round_trips():
    configs = (SIGMOID, RELU_HE, get_preset("batch_norm").config,
               Config(depth=30, activation="relu", init="xavier_uniform", lr=0.01, seed=7))
    setup = Setup(runs=configs, labels=("σ", "ReLU + He", "BN", "Xavier 30"),
                  hidden_views=("signal", "health", "boundary"), speed=50, theme="light")
    text = to_string(setup)
    back = from_string(text)
    assert back == setup
    assert back.runs[3].lr == 0.01 and back.runs[3].seed == 7 and back.labels[0] == "σ"
    assert back.hidden_views == ("boundary", "health", "signal")  # VIEW_KEYS order
    assert back.speed == 50.0
    assert URL_SAFE.fullmatch(text) and len(text) < 150, (len(text), text)


def test_every_key_changed_in_four_runs_stays_within_the_limits():
    config = Config(depth=200, width=1024, activation="leaky_relu", init="orthogonal",
                    norm="layer", residual=True, optimizer="adam", lr=0.00123456789,
                    batch_size=65536, dataset="spirals", samples=200000, noise=1.5,
                    seed=2**31 - 1, steps=100_000_000, device="cpu")
    setup = Setup(runs=(config,) * 4, labels=("x" * 24,) * 4, hidden_views=VIEW_KEYS,
                  speed=0.25, theme="dark")
    text = to_string(setup)
    assert from_string(text) == setup
    assert len(text) < MAX_STRING_CHARS // 4, len(text)


def test_a_lesson_at_a_step_round_trips_with_and_without_its_runs():
    alone = Setup(runs=(), lesson=LESSON, lesson_step=3)
    assert from_string(to_string(alone)) == alone
    assert len(to_string(alone)) < 50
    edited = Setup(runs=(SIGMOID, RELU_HE), lesson=LESSON, lesson_step=13,
                   hidden_views=("loss",))
    assert from_string(to_string(edited)) == edited


def test_a_string_made_today_still_means_the_same_setup():
    # Guards the frozen V1_DEFAULTS and _ZDICT: editing either breaks strings already shared.
    assert from_string("vgrad1:ePkZnMuDw2UWHi0A0HcR8g") == Setup(runs=(RELU_HE,))
    assert from_string("vgrad1:ePkZnMuDqyYpPI1rAbZaEcI") == Setup(
        runs=(), lesson=LESSON, lesson_step=3)


def test_only_values_that_differ_from_the_defaults_are_written():
    data = setups.to_data(Setup(runs=(Config(depth=30, activation="relu"),), speed=20.0))
    assert data == {"runs": [{"depth": 30, "activation": "relu"}], "speed": 20}


@pytest.mark.parametrize("wrap", [
    "  {s}\n",
    "vgrad-gui --setup {s}",
    "vgrad-gui gui --setup={s}",
    "--setup '{s}'",
    '"{s}"',
    "{a}\n  {b}",  # wrapped by an e-mail
])
def test_pasted_with_spaces_quotes_or_the_command_is_still_read(wrap):
    setup = Setup(runs=(SIGMOID, RELU_HE), theme="dark")
    text = to_string(setup)
    half = len(text) // 2
    assert from_string(wrap.format(s=text, a=text[:half], b=text[half:])) == setup


def test_padding_is_optional():
    text = to_string(Setup(runs=(RELU_HE,)))
    padded = text + "=" * (-len(text.removeprefix(PREFIX)) % 4)
    assert from_string(padded) == from_string(text)


# -- hostile strings ------------------------------------------------------------------------------
def _ok_string() -> str:
    return to_string(Setup(runs=(SIGMOID, RELU_HE), labels=("a", "b")))


def _flip_checksum() -> str:
    packed = base64.urlsafe_b64decode(pack('{"runs":[{}]}').removeprefix(PREFIX))
    return PREFIX + base64.urlsafe_b64encode(packed[:-1] + bytes([packed[-1] ^ 1])).decode()


HOSTILE = [
    ("empty", "", "empty"),
    ("only the prefix", PREFIX, "empty after 'vgrad1:'"),
    ("no prefix", "ePkZnMuDw2UWHi0A0HcR8g", "starting with 'vgrad1:'"),
    ("wrong version", "vgrad2:ePkZnMuDw2UWHi0A0HcR8g", "'vgrad2:' is not one"),
    ("version zero", "vgrad0:abcd", "'vgrad0:' is not one"),
    ("too long", PREFIX + "A" * MAX_STRING_CHARS, "too long"),
    ("bad base64 character", PREFIX + "ePkZn+uDw2UW", "character '+' at position 6"),
    ("an equals sign inside", PREFIX + "ePkZ=nMuD", "character '='"),
    ("a control character", PREFIX + "ePkZ\x00nMuD", "character '\\x00'"),
    ("a length base64 cannot have", PREFIX + "ePkZn", "length cannot be base64"),
    ("truncated", _ok_string()[:-6], "damaged"),
    ("cut to the header", _ok_string()[:20], "damaged"),
    ("not zlib", PREFIX + base64.urlsafe_b64encode(b"hello there, world!").decode(),
     "does not decompress"),
    ("checksum wrong", _flip_checksum(), "does not decompress"),
    ("bytes after the end", pack('{"runs":[{}]}') .rstrip("=") + "AAAA", "after the end"),
    ("not UTF-8", pack(b'{"runs":[{}],"theme":"\xff"}'), "not UTF-8"),
    ("not JSON", pack("{runs: []}"), "not valid JSON"),
    ("deep nesting", pack('{"runs":' + "[" * 200 + "]" * 200 + "}"), "nested 201 levels"),
    ("NaN", pack('{"runs":[{"lr":NaN}]}'), "NaN is not a number JSON allows"),
    ("Infinity", pack('{"runs":[{}],"speed":Infinity}'), "Infinity is not a number"),
    ("duplicate keys", pack('{"runs":[{}],"theme":"dark","theme":"light"}'),
     "key \"theme\" is given twice"),
    ("duplicate run keys", pack('{"runs":[{"depth":3,"depth":4}]}'), "given twice"),
    ("a list", pack("[1, 2]"), "a setup is a JSON object, got a list"),
    ("5 runs", pack('{"runs":[{},{},{},{},{}]}'), "5 runs; allowed: 1 to 4"),
    ("no runs", pack('{"runs":[]}'), "0 runs; allowed: 1 to 4 (with no lesson)"),
    ("nothing at all", pack("{}"), "0 runs"),
    ("runs not a list", pack('{"runs":{"depth":3}}'), "runs: got an object"),
    ("a run not an object", pack('{"runs":[3]}'), "runs[0] (A): got a number"),
    ("bad config value", pack('{"runs":[{},{"depth":0}]}'),
     "runs[1] (B): config key 'depth': got 0; allowed: an integer from 1 to 200"),
    ("bad config choice", pack('{"runs":[{"activation":"rleu"}]}'), "did you mean 'relu'"),
    ("config rule", pack('{"runs":[{"norm":"batch","batch_size":1}]}'), "at least 2 when norm"),
    ("huge number", pack('{"runs":[{"depth":' + "9" * 500 + "}]}"), "a number of 500 char"),
    ("unknown key", pack('{"runs":[{}],"themes":"dark"}'),
     "unknown key \"themes\"; allowed keys: format, runs, labels"),
    ("unknown run key", pack('{"runs":[{"dept":3}]}'),
     "runs[0] (A): unknown key \"dept\"; allowed keys: depth, width"),
    ("unknown preset", pack('{"runs":[{"preset":"nope"}]}'), "config key 'preset'"),
    ("unknown view", pack('{"runs":[{}],"hidden_views":["heatmaps"]}'),
     "hidden_views: got \"heatmaps\"; allowed: heatmap, lines, bars, loss, boundary, health, "
     "signal (did you mean 'heatmap'?)"),
    ("a view twice", pack('{"runs":[{}],"hidden_views":["loss","loss"]}'), "named twice"),
    ("views not a list", pack('{"runs":[{}],"hidden_views":"loss"}'), "got a string"),
    ("unknown lesson", pack('{"lesson":"vanishing"}'), "lesson: got \"vanishing\"; allowed: a "
     "shipped lesson, one of vanishing_gradients (did you mean 'vanishing_gradients'?)"),
    ("negative step", pack('{"lesson":"vanishing_gradients","lesson_step":-1}'),
     "lesson_step: got -1; allowed: an integer from 1 to"),
    ("step zero", pack('{"lesson":"vanishing_gradients","lesson_step":0}'), "from 1 to"),
    ("step past the end", pack('{"lesson":"vanishing_gradients","lesson_step":1000}'),
     "steps)"),
    ("step as text", pack('{"lesson":"vanishing_gradients","lesson_step":"3"}'), "got \"3\""),
    ("step true", pack('{"lesson":"vanishing_gradients","lesson_step":true}'), "got true"),
    ("step without lesson", pack('{"runs":[{}],"lesson_step":2}'), "given without a lesson"),
    ("labels not matching", pack('{"runs":[{},{}],"labels":["a"]}'), "1 labels for 2 runs"),
    ("label with a newline", pack('{"runs":[{}],"labels":["a\\nb"]}'), "labels[0]: got"),
    ("label too long", pack('{"runs":[{}],"labels":["' + "x" * 25 + '"]}'), "1 to 24"),
    ("label blank", pack('{"runs":[{}],"labels":["  "]}'), "labels[0]"),
    ("speed zero", pack('{"runs":[{}],"speed":0}'), "speed: got 0; allowed: steps per second"),
    ("speed text", pack('{"runs":[{}],"speed":"max"}'), "speed: got \"max\""),
    ("speed huge", pack('{"runs":[{}],"speed":1e300}'), "speed: got 1e+300"),
    ("theme", pack('{"runs":[{}],"theme":"blue"}'), "theme: got \"blue\"; allowed: dark, light"),
    ("format 2", pack('{"format":2,"runs":[{}]}'), "format: got 2; allowed: 1"),
]


@pytest.mark.parametrize(("text", "expected"), [(t, e) for _, t, e in HOSTILE],
                         ids=[name for name, _, _ in HOSTILE])
def test_hostile_string_is_one_line_naming_the_problem(text, expected):
    message = refused(text)
    assert expected in message, message


def test_a_ten_megabyte_bomb_is_refused_by_its_length_before_decoding():
    bomb = pack('{"runs":[{}]' + " " * 10_000_000 + "}", zdict=False)
    assert len(bomb) > MAX_STRING_CHARS
    assert "too long" in refused(bomb)


def test_a_bomb_short_enough_to_paste_stops_at_the_decompression_cap():
    bomb = pack('{"runs":[{}]' + " " * 3_000_000 + "}", zdict=False)
    assert len(bomb) <= MAX_STRING_CHARS  # so the cap, not the length check, must stop it
    tracemalloc.start()
    try:
        message = refused(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert f"more than {MAX_JSON_BYTES:,} bytes" in message
    assert peak < 500_000, peak  # inflating it all would hold 3 MB


def test_a_setup_built_in_code_is_checked_too():
    with pytest.raises(SetupError, match="5 runs"):
        Setup(runs=(SIGMOID,) * 5)
    with pytest.raises(SetupError, match="each run must be a Config"):
        Setup(runs=({"depth": 3},))  # type: ignore[arg-type]
    with pytest.raises(SetupError, match="speed"):
        Setup(runs=(SIGMOID,), speed=float("nan"))
    with pytest.raises(SetupError, match="speed"):
        Setup(runs=(SIGMOID,), speed=10**400)
    with pytest.raises(SetupError, match="lesson_step"):
        Setup(runs=(), lesson=LESSON, lesson_step=len(load_shipped(LESSON).steps) + 1)
    last = len(load_shipped(LESSON).steps)
    assert Setup(runs=(), lesson=LESSON, lesson_step=last).lesson_step == last


# -- files ----------------------------------------------------------------------------------------
def test_a_file_round_trips_and_is_indented_json_with_its_format(tmp_path):
    setup = Setup(runs=(SIGMOID, RELU_HE), labels=("sigmoid", "ReLU"), lesson=LESSON,
                  lesson_step=2, hidden_views=("health",), speed=5, theme="light")
    path = save_setup(setup, tmp_path / "s.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == 1 and data["runs"][1] == {"activation": "relu", "init": "he_normal"}
    assert "\n  " in path.read_text(encoding="utf-8")
    assert load_setup(path) == setup


def test_a_hand_written_file_with_a_preset_and_missing_keys(tmp_path):
    path = tmp_path / "lecture.json"
    path.write_text('{\n  "runs": [{"preset": "relu_he", "depth": 30}, {}],\n'
                    '  "hidden_views": ["signal"]\n}\n', encoding="utf-8")
    setup = load_setup(path)
    assert setup.runs == (RELU_HE.replace(depth=30), Config())
    assert setup.hidden_views == ("signal",)


def test_a_file_holding_a_setup_string_is_read_as_the_string(tmp_path):
    setup = Setup(runs=(RELU_HE,), theme="dark")
    path = tmp_path / "s.txt"
    path.write_text("\ufeff" + to_string(setup) + "\n", encoding="utf-8")
    assert load_setup(path) == setup


def _fifo(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    os.mkfifo(tmp_path / "f")
    return tmp_path / "f"


@pytest.mark.parametrize(("make", "expected"), [
    (lambda d: d / "missing.json", "setup file not found"),
    (lambda d: d, "is a directory; allowed: a regular JSON file"),
    (_fifo, "FIFO"),
    (lambda d: _write(d, b"{" + b" " * 200_000 + b"}"), "too large: 200,002 bytes"),
    (lambda d: _write(d, b'{"runs":[{}], "theme":"\xff"}'), "not a text file"),
    (lambda d: _write(d, b'{\n  "runs": [{}],\n  "theme": dark\n}'),
     "not valid JSON: Expecting value at line 3 column 12"),
    (lambda d: _write(d, b'{"runs": [{"depth": 0}]}'), "runs[0] (A): config key 'depth'"),
    (lambda d: _write(d, b"vgrad1:ePkZnMuDw2UW"), "damaged"),
])
def test_a_bad_file_is_one_line_naming_the_file(tmp_path, make, expected):
    path = make(tmp_path)
    with pytest.raises(SetupError) as info:
        load_setup(path)
    message = str(info.value)
    assert "\n" not in message and expected in message, message
    assert message.startswith(str(path)[:20])


def _write(folder, data: bytes):
    path = folder / "bad.json"
    path.write_bytes(data)
    return path


# -- describe -------------------------------------------------------------------------------------
def test_describe_is_one_line_for_a_tooltip():
    assert describe(Setup(runs=(SIGMOID, RELU_HE), lesson=LESSON, lesson_step=3)) == (
        "2 runs: A sigmoid, B ReLU + He init; lesson vanishing_gradients step 3")
    assert describe(Setup(runs=(RELU_HE,))) == "1 run: ReLU + He init, depth 10, moons"
    assert describe(Setup(runs=(SIGMOID, RELU_HE), labels=("old", "new"),
                          hidden_views=("signal", "loss"), speed=20, theme="light")) == (
        "2 runs: A old, B new; hides loss, signal; 20 steps/s; light theme")
    assert describe(Setup(runs=(), lesson=LESSON)) == f"lesson {LESSON} step 1"


def test_every_shipped_lesson_is_a_setup():
    for name in shipped_lessons():
        assert from_string(to_string(Setup(runs=(), lesson=name))).lesson == name


# -- fuzzing --------------------------------------------------------------------------------------
FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=12) | st.sampled_from([*VIEW_KEYS, "dark", "relu", LESSON]),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
        st.sampled_from([*setups.SETUP_KEYS, "depth", "activation", "preset", "x"]), inner,
        max_size=4),
    max_leaves=12,
)


def _read(text: str) -> None:
    try:
        from_string(text)
    except SetupError as exc:
        assert "\n" not in str(exc) and len(str(exc)) <= MAX_SETUP_MESSAGE


@FUZZ
@given(st.text(max_size=300))
def test_any_text_is_a_setup_or_a_setup_error(text):
    _read(text)
    _read(PREFIX + text)


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_after_the_prefix_are_a_setup_or_a_setup_error(data):
    _read(PREFIX + base64.urlsafe_b64encode(data).decode())
    _read(pack(data))


@FUZZ
@given(json_values)
def test_any_json_inside_is_a_setup_or_a_setup_error(value):
    _read(pack(json.dumps(value)))


configs = st.builds(
    Config, depth=st.integers(1, 200), width=st.integers(1, 64),
    activation=st.sampled_from(["sigmoid", "relu", "tanh"]),
    lr=st.floats(1e-6, 10), seed=st.integers(0, 2**31 - 1))


@settings(FUZZ, max_examples=100)
@given(st.lists(configs, min_size=1, max_size=4),
       st.lists(st.sampled_from(VIEW_KEYS), unique=True),
       st.none() | st.floats(0.1, 100_000), st.none() | st.sampled_from(["dark", "light"]))
def test_any_setup_round_trips(runs, hidden, speed, theme):
    setup = Setup(runs=tuple(runs), hidden_views=tuple(hidden), speed=speed, theme=theme)
    assert from_string(to_string(setup)) == setup
