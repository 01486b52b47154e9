"""The typer application and the entry point: usage errors and CxrbenchError become one line and exit code 2."""

from __future__ import annotations

import sys

import typer

from cxrbench import __version__
from cxrbench.errors import CxrbenchError
from cxrbench.names import closest

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="cxrbench: benchmark generative models of chest X-rays.",
)


@app.callback(invoke_without_command=True)
def _version(version: bool = typer.Option(False, "--version", help="print the version and exit")) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit()


def _click_classes(name: str) -> tuple[type, ...]:
    """The exception classes called ``name`` of the click that typer uses: recent typer vendors its
    own copy (``typer._click``, with Abort in ``typer.exceptions``), older ones use click itself."""
    import importlib

    found = []
    for module in ("typer._click.exceptions", "typer.exceptions", "click.exceptions"):
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if isinstance(cls, type) and cls not in found:
            found.append(cls)
    return tuple(found)


def usage_line(error) -> str:
    """A usage error as one line: what is wrong, the closest valid word, where to read more."""
    import re

    ctx = getattr(error, "ctx", None)
    where = ctx.command_path.replace(ctx.find_root().info_name or "", "cxrbench", 1) if ctx else "cxrbench"
    message = " ".join(error.format_message().split())
    possibilities = getattr(error, "possibilities", None)
    if possibilities is not None and getattr(error, "option_name", None):  # an unknown option
        close = closest(error.option_name, possibilities)
        message = f"no such option {error.option_name}" + (f"; did you mean {close}?" if close else "")
    choice = re.search(r"'([^']*)' is not one of ((?:'[^']*'(?:, )?)+)", message)
    if choice:  # an unknown choice: name the closest one
        options = re.findall(r"'([^']*)'", choice.group(2))
        close = closest(choice.group(1), options)
        message = message.replace("Value error, ", "") + (f" Did you mean {close!r}?" if close else "")
    return f"{message} (see `{where} --help`)"


def main() -> None:
    """Entry point: CxrbenchError and usage errors -> one line on stderr, exit code 2."""
    usage, help_only, aborted = (_click_classes(name) for name in ("ClickException", "NoArgsIsHelpError", "Abort"))
    try:
        code = app(standalone_mode=False)
    except CxrbenchError as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(2)
    except help_only as error:  # a command group without its subcommand: show what it has
        error.show()
        sys.exit(error.exit_code)
    except usage as error:
        typer.echo(f"error: {usage_line(error)}", err=True)
        sys.exit(error.exit_code)
    except aborted:
        typer.echo("aborted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
