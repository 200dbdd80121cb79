"""The vgrad-gui command: the desktop app by default, plus headless sub-commands.

    vgrad-gui [--preset NAME | --config FILE | --compare PRESET PRESET... | --setup STRING |
               --setup-file FILE] [--lesson NAME|FILE] [--present] [--theme dark|light]
              [--autostart] [--fullscreen] [RUN.npz ...]
    vgrad-gui record (--preset NAME | --config FILE) [--steps N] [--seed S] -o RUN.npz
    vgrad-gui summary RUN.npz
    vgrad-gui export RUN.npz --view VIEW [--format csv|svg|png] -o OUT [--step S]
    vgrad-gui presets

Bad input prints one clear message and exits with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

from vgrad_gui import __version__, export_cmd
from vgrad_gui.core.diagnose import diagnose
from vgrad_gui.core.history import RunHistory
from vgrad_gui.core.lessons import LessonError, open_lesson
from vgrad_gui.core.presets import all_presets, get_preset
from vgrad_gui.core.readings import first_nonfinite_step
from vgrad_gui.core.report import summary_text
from vgrad_gui.core.runfile import RunFileError, load_runs, save_run
from vgrad_gui.core.setups import SetupError, from_string, load_setup
from vgrad_gui.core.spec import FIELD_BY_NAME, Config, ConfigError, load_config, one_line
from vgrad_gui.core.workspace import MAX_RUNS

EXIT_FAILED = 1  # the run was recorded but could not be saved where asked
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool killed by it
SUBCOMMANDS = ("record", "summary", "presets", "gui", "export", "check-lesson")


class UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vgrad-gui",
        description="Watch the vanishing gradient problem happen, layer by layer. With no "
                    "sub-command, opens the desktop app.",
        epilog="The app: vgrad-gui [--preset NAME | --config FILE] [--autostart] "
               "[--fullscreen] [RUN.npz]  (details: vgrad-gui gui --help)",
    )
    parser.add_argument("--version", action="version", version=f"vgrad-gui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    gui = sub.add_parser("gui", help="open the desktop app (the default)")
    add_gui_options(gui)

    rec = sub.add_parser("record", help="train headless and save the run to a file",
                         description="Train a network without a window and save every layer's "
                                     "gradient to a run file (.npz).")
    source = rec.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", metavar="NAME", help="a preset (see 'vgrad-gui presets')")
    source.add_argument("--config", metavar="FILE", help="a JSON config file")
    # Plain text, checked by the config's own fields: one message names the range.
    rec.add_argument("--steps", metavar="N", help="steps to train (default: the config's "
                     "'steps')")
    rec.add_argument("--seed", metavar="S", help="override the config's seed")
    rec.add_argument("-o", "--output", required=True, metavar="RUN.npz",
                     help="where to save the run")
    rec.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    summ = sub.add_parser("summary", help="per-layer table and diagnosis of a saved run")
    summ.add_argument("run", metavar="RUN.npz")

    sub.add_parser("presets", help="list the presets with a line on each")
    export_cmd.add_parser(sub)
    check = sub.add_parser("check-lesson", help="run every step of a lesson headless and "
                           "check that what it claims happens",
                           description="Train each step's networks as the app would and check "
                                       "each step's claims; prints the evidence line of each "
                                       "step. Exit status 1 when a claim does not hold.")
    check.add_argument("lesson", metavar="NAME|FILE")
    return parser


def add_gui_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", metavar="NAME", help="start from a preset")
    source.add_argument("--config", metavar="FILE", help="start from a JSON config file")
    parser.add_argument("--autostart", action="store_true", help="start training at once")
    parser.add_argument("--lesson", metavar="NAME|FILE",
                        help="open a lesson: a shipped one (vanishing_gradients) or your own "
                             "lesson file (see README, Teaching)")
    parser.add_argument("--present", action="store_true",
                        help="presenter mode: the lesson and the views fill the screen (P)")
    parser.add_argument("--theme", choices=("dark", "light"),
                        help="dark (the default) or light: high contrast for bright rooms")
    parser.add_argument("--fullscreen", action="store_true", help="open full screen "
                        "(F toggles)")
    source.add_argument("--setup", metavar="STRING",
                        help="open a shared setup (the vgrad1:... text Copy setup makes)")
    source.add_argument("--setup-file", metavar="FILE",
                        help="open a setup file (JSON; see README, Sharing a setup)")
    source.add_argument("--compare", metavar="PRESET", nargs="+",
                        help="compare two to four presets side by side, e.g. --compare "
                             "deep_sigmoid relu_he")
    parser.add_argument("runs", nargs="*", metavar="RUN.npz",
                        help="open saved runs (two to four open side by side)")


def main(argv: list[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if not args_in or (args_in[0] not in SUBCOMMANDS
                       and args_in[0] not in ("-h", "--help", "--version")):
        args_in = ["gui", *args_in]
    args = build_parser().parse_args(args_in)
    try:
        status = dispatch(args)
        sys.stdout.flush()  # inside the try: a closed pipe shows up here, not at exit
        return status
    except (ConfigError, LessonError, RunFileError, SetupError, UsageError) as exc:
        error(str(exc))
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader left (| head -1): stop quietly. Point stdout at devnull so the flush at
        # interpreter exit does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except MemoryError:
        error("out of memory; try a smaller depth, width, batch_size or samples")
        return EXIT_FAILED


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "record":
        return cmd_record(args)
    if args.command == "summary":
        return cmd_summary(args)
    if args.command == "presets":
        return cmd_presets()
    if args.command == "export":
        return export_cmd.run(args)
    if args.command == "check-lesson":
        return cmd_check_lesson(args)
    return cmd_gui(args)


def error(message: str) -> None:
    print(f"vgrad-gui: error: {one_line(message)}", file=sys.stderr)


def config_from_args(preset: str | None, config_file: str | None) -> Config:
    if preset:
        return get_preset(preset).config
    if config_file:
        return load_config(config_file)
    return Config()


# -- record -------------------------------------------------------------------------------
def record_config(args: argparse.Namespace) -> Config:
    config = config_from_args(args.preset, args.config)
    changes = {}
    for key in ("steps", "seed"):
        text = getattr(args, key)
        if text is not None:
            changes[key] = FIELD_BY_NAME[key].parse_text(text)
    return config.replace(**changes) if changes else config


def check_output(out: Path) -> None:
    """Refuse, before training, a target that cannot be written: better a message now than a
    lost run after an hour. Creating (and removing) a file there is the only sure test."""
    if out.is_dir():
        raise UsageError(f"{out} is a directory; give a file name such as {out / 'run.npz'}")
    parent = out.parent
    if not parent.exists():
        raise UsageError(f"cannot write {out}: folder {parent} does not exist")
    if not parent.is_dir():
        raise UsageError(f"cannot write {out}: {parent} is not a folder")
    if out.exists() and not out.is_file():
        raise UsageError(f"cannot write {out}: it exists and is not a regular file")
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".vgrad-check-", suffix=".tmp"):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None


def cmd_record(args: argparse.Namespace) -> int:
    config = record_config(args)
    out = Path(args.output)
    check_output(out)
    from vgrad_gui.core.budget import check_budget

    for warning in check_budget(config):
        print(f"vgrad-gui: warning: {one_line(warning)}", file=sys.stderr)

    import torch  # imported here so 'summary' and 'presets' start fast

    from vgrad_gui.core.trainer import threads_for

    torch.set_num_threads(threads_for(config))
    name = args.preset or Path(args.config).name
    history, elapsed, stopped = train(config, name, quiet=args.quiet)
    saved = save_or_fallback(history, out)
    if saved is None:
        return EXIT_FAILED
    line = record_line(history, name, elapsed, saved)
    if stopped:
        print(f"{stopped}: saved the {history.step} steps done so far.\n{line}")
        return EXIT_INTERRUPTED if stopped == "interrupted" else EXIT_FAILED
    print(line)
    return 0 if saved == out else EXIT_FAILED


def train(config: Config, name: str, quiet: bool) -> tuple[RunHistory, float, str]:
    """Train headless; returns the history, the seconds taken and why it stopped early ("" when
    it ran to the end). What was recorded is kept whatever stops it."""
    from vgrad_gui.core.records import RecordBlock
    from vgrad_gui.core.trainer import Trainer

    trainer = Trainer(config)
    kind = trainer.probe.inactive_kind
    history = RunHistory(config, trainer.layer_names, kind, {"source": name})
    progress = Progress(config.steps, sys.stderr, enabled=not quiet)
    started = time.perf_counter()
    stopped = ""

    def on_block(block: RecordBlock) -> None:
        history.append(block)
        progress.update(history)
        if history.first_nonfinite_step is not None:
            trainer.stop()  # nothing more can be learned from NaN weights

    try:
        trainer.run(config.steps, on_block)
    except KeyboardInterrupt:
        stopped = "interrupted"
    except MemoryError:
        stopped = "out of memory"
    except RuntimeError as exc:  # torch.OutOfMemoryError is a RuntimeError
        if "out of memory" not in str(exc).lower():
            raise
        stopped = "out of memory"
    progress.close()
    return history, time.perf_counter() - started, stopped


def save_or_fallback(history: RunHistory, out: Path) -> Path | None:
    """Save to ``out``; if that fails (disk full, permission gone), to a new file in the temp
    folder. Says where the run went on one line; None when it could be saved nowhere."""
    try:
        save_run(history, out)
        return out
    except (OSError, RunFileError) as exc:
        first = _reason(exc)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    fallback = Path(tempfile.gettempdir()) / f"vgrad-run-{stamp}-{os.getpid()}.npz"
    try:
        save_run(history, fallback)
    except (OSError, RunFileError) as exc:
        error(f"the run of {history.step} steps could not be saved: {out}: {first}; "
              f"{fallback}: {_reason(exc)}")
        return None
    error(f"could not save the run to {out} ({first}); saved it to {fallback} instead")
    return fallback


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc.strerror or errno.errorcode.get(exc.errno, str(exc))
    return str(exc)


def record_line(history: RunHistory, name: str, elapsed: float, out: Path) -> str:
    findings = diagnose(history)
    rate = history.step / elapsed if elapsed > 0 else 0.0
    loss = history.latest("steps", "loss")
    acc = history.latest("evals", "test_accuracy")
    parts = [f"recorded {history.step} steps of {name} in {elapsed:.1f} s ({rate:.0f} steps/s)"]
    if loss is not None:
        parts.append(f"loss {float(loss[0]):.3f}")
    if acc is not None:
        parts.append(f"test accuracy {float(acc[0]):.1%}")
    line = ", ".join(parts) + f" -> {out}"
    if findings:
        line += f"\n{findings[0].message}"
    bad = first_nonfinite_step(history)
    if bad is not None:
        line += f"\nstopped at step {bad}, the first step whose gradients are not finite."
    return line


class Progress:
    """A one-line progress bar on a terminal, redrawn at most ten times a second."""

    def __init__(self, total: int, stream: TextIO, enabled: bool = True) -> None:
        self.total = total
        self.stream = stream
        self.enabled = enabled and stream.isatty()
        self.started = time.perf_counter()
        self.last = 0.0

    def update(self, history: RunHistory) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.last < 0.1:
            return
        self.last = now
        step = history.step
        loss = history.latest("steps", "loss")
        frac = step / max(1, self.total)
        bar = "#" * int(frac * 30)
        rate = step / max(1e-9, now - self.started)
        loss_text = f"loss {float(loss[0]):.4f}" if loss is not None else ""
        self.stream.write(f"\r[{bar:<30}] {step}/{self.total} steps  {rate:.0f}/s  {loss_text} ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 78 + "\r")
            self.stream.flush()


# -- summary ------------------------------------------------------------------------------
def cmd_summary(args: argparse.Namespace) -> int:
    runs = load_runs(args.run)
    for i, run in enumerate(runs):
        if len(runs) > 1:
            print(f"{'' if i == 0 else chr(10)}== run {'ABCD'[i]}: {run.label or 'unlabelled'}")
        print(summary_text(run.history, args.run))
    return 0


# -- lessons ------------------------------------------------------------------------------
def cmd_check_lesson(args: argparse.Namespace) -> int:
    from vgrad_gui.core.lessons import check_step, fill_evidence, run_step

    lesson = open_lesson(args.lesson)
    failed = 0
    cache: dict = {}
    for i, step in enumerate(lesson.steps, 1):
        runs = run_step(step, cache=cache)
        problems = check_step(step, runs)
        failed += bool(problems)
        print(f"{i:2}. {step.title}: {'ok' if not problems else 'FAILED'}")
        if step.evidence:
            print(f"    {fill_evidence(step, runs)}")
        for problem in problems:
            print(f"    claim not met: {problem}")
    print(f"{lesson.title}: {len(lesson.steps) - failed} of {len(lesson.steps)} steps hold")
    return EXIT_FAILED if failed else 0


# -- presets ------------------------------------------------------------------------------
def cmd_presets() -> int:
    presets = all_presets()
    width = max(len(p.name) for p in presets)
    for p in presets:
        print(f"{p.name:<{width}}  {p.summary}")
    return 0


# -- gui ----------------------------------------------------------------------------------
def cmd_gui(args: argparse.Namespace) -> int:
    config = config_from_args(args.preset, args.config) if (args.preset or args.config) \
        else None
    compare = None
    if args.compare:
        if not 2 <= len(args.compare) <= MAX_RUNS:
            raise UsageError(f"--compare: {len(args.compare)} presets given; compare 2 to "
                             f"{MAX_RUNS}")
        compare = [get_preset(name).config for name in args.compare]
    # Read before the window opens: a bad file or string is one line on the terminal, exit 2.
    setup = from_string(args.setup) if args.setup is not None else \
        load_setup(args.setup_file) if args.setup_file is not None else None
    if setup is not None and args.runs:
        raise UsageError("--setup: give a setup or run files, not both")
    lesson = open_lesson(args.lesson) if args.lesson else None
    runs = [run for path in args.runs for run in load_runs(path)]
    if len(runs) > MAX_RUNS:
        raise UsageError(f"{len(runs)} runs in {len(args.runs)} files: the app shows at most "
                         f"{MAX_RUNS} side by side")
    from vgrad_gui.qt.app import run_app

    return run_app(config=config, preset=args.preset, autostart=args.autostart,
                   fullscreen=args.fullscreen, runs=runs,
                   run_path=args.runs[0] if args.runs else None, compare=compare,
                   setup=setup, theme_name=args.theme, lesson=lesson,
                   present=args.present)
