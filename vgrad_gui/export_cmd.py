"""The ``export`` sub-command: a saved run's view as CSV, SVG or PNG, without a window.

    vgrad-gui export RUN.npz --view heatmap --format svg -o out.svg
    vgrad-gui export RUN.npz --view run --format csv -o run.csv   (every step, every layer)

``cli.py`` hooks it in with ``add_parser(sub)`` and dispatches ``args.command == "export"`` to
``run(args)``; ``python -m vgrad_gui.export_cmd`` runs it on its own. Bad input (a file that
is not a run, an unknown view or format, a step the run did not record, a figure asked of the
whole-run CSV, an output that cannot be written) prints one line and exits with status 2.
Qt is imported only for SVG and PNG, offscreen when there is no display.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from vgrad_gui.core.export import VIEWS, WHOLE_RUN, ExportError
from vgrad_gui.core.spec import one_line

if TYPE_CHECKING:
    from vgrad_gui.core.run import Run

EXIT_USAGE = 2
FORMATS = ("csv", "svg", "png")
ALL_VIEWS = (*VIEWS, WHOLE_RUN)


class ExportUsageError(Exception):
    pass


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``export`` to the sub-command parsers of ``vgrad-gui``."""
    parser = sub.add_parser(
        "export", help="a saved run's view as CSV, SVG or PNG",
        description="Export the data behind a view (CSV) or the view as a figure (SVG, PNG) "
                    "from a saved run, without a window. View 'run' is the whole run as one "
                    "wide CSV: a row per recorded step, a column per layer.")
    configure(parser)
    return parser


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN.npz", help="a run file")
    # Plain text, checked here: a wrong value gets one line naming what is allowed, not
    # argparse's usage block.
    parser.add_argument("--view", required=True, metavar="VIEW",
                        help=f"one of {', '.join(ALL_VIEWS)}")
    parser.add_argument("--format", metavar="FORMAT",
                        help=f"one of {', '.join(FORMATS)} (default: from the output's suffix)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="file to write")
    parser.add_argument("--step", metavar="S", help="the step to show (default: the last)")
    parser.add_argument("--scale", metavar="X", default="1",
                        help="PNG/SVG size multiple for print, e.g. 3 (default 1: 800 x 500)")
    parser.add_argument("--run-index", metavar="I", default="0",
                        help="which run of a file holding several (default 0, the first)")


def _int(text: str, name: str, lowest: int) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        raise ExportUsageError(f"{name} must be a whole number; got {text!r}") from None
    if value < lowest:
        raise ExportUsageError(f"{name} must be {lowest} or more; got {value}")
    return value


def _scale(text: str) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        raise ExportUsageError(f"--scale must be a number; got {text!r}") from None
    if not 0 < value <= 8:  # NaN fails too
        raise ExportUsageError(f"--scale must be more than 0 and at most 8; got {value:g}")
    return value


def _format(args: argparse.Namespace) -> str:
    fmt = args.format
    if fmt is None:
        fmt = Path(args.output).suffix.lower().lstrip(".")
        if fmt not in FORMATS:
            raise ExportUsageError(f"give --format ({', '.join(FORMATS)}): the output "
                                   f"{args.output} does not end in one of them")
    fmt = str(fmt).lower()
    if fmt not in FORMATS:
        raise ExportUsageError(f"unknown format {args.format!r}; allowed: {', '.join(FORMATS)}")
    return fmt


def load_run_at(path: str, index: int) -> Run:
    """Run ``index`` of a run file (a comparison holds up to four; older files one)."""
    from vgrad_gui.core.runfile import load_runs

    runs = load_runs(path)
    if not 0 <= index < len(runs):
        raise ExportUsageError(f"--run-index {index}: {path} holds {len(runs)} "
                               f"run{'s' if len(runs) != 1 else ''}; allowed: 0 to "
                               f"{len(runs) - 1}")
    return runs[index]


def _offscreen_if_headless() -> None:
    """Qt aborts the process when it finds no display: draw offscreen where there is none."""
    if sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM") \
            and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


def export(args: argparse.Namespace) -> str:
    """Do the export; returns the line to print. Raises ExportUsageError, ExportError,
    RunFileError or RunError (one line each) for bad input."""
    from vgrad_gui.core import export as core_export

    view = str(args.view).strip().lower()
    if view not in ALL_VIEWS:
        raise ExportUsageError(f"unknown view {args.view!r}; allowed: {', '.join(ALL_VIEWS)}")
    fmt = _format(args)
    if view == WHOLE_RUN and fmt != "csv":
        raise ExportUsageError(f"view '{WHOLE_RUN}' is the whole run as one wide CSV; use "
                               f"--format csv, or a view ({', '.join(VIEWS)}) for a figure")
    if view == WHOLE_RUN and args.step is not None:
        raise ExportUsageError(f"--step does not apply to view '{WHOLE_RUN}': it holds every "
                               "recorded step")
    step = None if args.step is None else _int(args.step, "--step", 1)
    scale = _scale(args.scale)
    index = _int(args.run_index, "--run-index", 0)
    out = Path(args.output)
    core_export.check_writable(out)
    run = load_run_at(args.run, index)
    if view == WHOLE_RUN:
        core_export.run_wide_csv(run, out)
        return f"wrote the whole run ({run.step:,} steps) as csv -> {out}"
    at = core_export.resolve_step(run, step)
    if fmt == "csv":
        header, rows = core_export.view_table(run, view, at)
        core_export.write_csv(out, header, rows)
    else:
        _offscreen_if_headless()
        from vgrad_gui.qt.figures import render_figure

        render_figure(run, view, at, fmt, out, scale=scale)
    return f"wrote {view} at step {at:,} as {fmt} -> {out}"


def run(args: argparse.Namespace) -> int:
    """The ``export`` sub-command: 0 on success, 2 with one line on stderr for bad input."""
    from vgrad_gui.core.run import RunError
    from vgrad_gui.core.runfile import RunFileError

    try:
        line = export(args)
    except (ExportUsageError, ExportError, RunFileError, RunError) as exc:
        print(f"vgrad-gui: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # a file vanishing or a disk filling between the checks and now
        name = exc.filename or args.output
        print(f"vgrad-gui: error: {one_line(f'{name}: {exc.strerror or exc}')}",
              file=sys.stderr)
        return EXIT_USAGE
    print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vgrad-gui export",
                                     description="Export a saved run's view as CSV, SVG or PNG.")
    configure(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
