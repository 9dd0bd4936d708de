"""The `cdp` command line (DESIGN contract 1).

One module per command group under `pipelines.cli`; each exposes
`register(subparsers)` and sets `handler` on its parser. Handlers return an exit
status. Any `CdpError` becomes a one-line message on stderr with its exit code
(2 for configuration errors). Commands that write under data_dir run under the run
lock (`WRITERS`), so two of them, or one and a `cdp run`, never write at once.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from collections.abc import Iterator, Sequence

from cdp import __version__, progress
from cdp.errors import CdpError

#: Command modules, in the order `cdp --help` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "run",
    "synth",
    "ingest",
    "normalize",
    "resolve",
    "profiles",
    "evaluate",
)


#: Commands that write the lake, the state, the warehouse, the exports or the reports:
#: each holds the run lock (`cdp.locks.run_lock`) for its whole length and fails with
#: `RunBusy` while another writer holds it. Every other command only reads data_dir
#: (`show`/`sql` read the published snapshot) or writes outside it (`synth`).
WRITERS: frozenset[str] = frozenset(
    {"run", "ingest", "normalize", "resolve", "profiles", "export", "forget", "report"}
)
READERS: frozenset[str] = frozenset({"synth", "explain", "show", "sql", "evaluate"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cdp",
        description="Customer Data Platform pipeline: exports in, unified customer profiles out.",
    )
    parser.add_argument("--version", action="version", version=f"cdp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"pipelines.cli.{name}")
        module.register(sub)
    return parser


def common_options(p: argparse.ArgumentParser) -> None:
    """--config and verbosity, accepted after any sub-command."""
    p.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default: ./cdp.toml, else $CDP_CONFIG, else the bundled samples)",
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument("-v", "--verbose", action="store_true", help="more detail on stderr")
    g.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    progress.set_verbosity(0 if getattr(args, "quiet", False) else 2 if args.verbose else 1)
    try:
        with _writer_lock(args):
            return int(args.handler(args) or 0)
    except CdpError as exc:
        print(f"cdp {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"cdp {args.command}: interrupted", file=sys.stderr)
        return 130


@contextlib.contextmanager
def _writer_lock(args: argparse.Namespace) -> Iterator[None]:
    """The run lock around a writing command (a dry run only reads); nothing for the rest."""
    if args.command not in WRITERS or getattr(args, "dry_run", False):
        yield
        return
    from cdp.layout import Layout
    from cdp.locks import run_lock
    from pipelines.cli._common import settings_from

    with run_lock(Layout.of(settings_from(args, check_files=False))):
        yield
