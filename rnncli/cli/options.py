"""Command-line options made from the settings classes, so each option's name, type, help
and default are written once (in rnncli/config.py or rnncli/tasks/settings.py).

- `setting(cls, name)`: the Annotated type of one option of an inference command, whose
  default the command takes from the class (`= DecodeSettings.beam`).
- `train_command(spec)`: a whole `rnncli train TASK` command. Its options default to None
  ("not given") so a --config file can fill them and the command line win; `--help` shows
  the real default of each.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from rnncli.config import FieldSpec, base_type, field_specs

P = inspect.Parameter


def help_text(spec: FieldSpec) -> str:
    text = spec.help
    if spec.choices:
        text = f"{text.rstrip('.')}: {'|'.join(spec.choices)}."
    return text


def setting(cls: type, name: str, *names: str) -> Any:
    """Annotated[type, Option] for field `name` of settings class `cls` (typed exactly as
    the field; the settings object validates the value)."""
    spec = field_specs(cls)[name]
    inner, optional = base_type(spec.type)
    annotation = Optional[inner] if optional else inner
    option_names = list(names) or ([spec.flag] if spec.flag and inner is bool else [spec.option_name])
    return Annotated[annotation, typer.Option(*option_names, help=help_text(spec))]


def shown_default(spec: FieldSpec) -> str | bool:
    if spec.default is None:
        return False
    if isinstance(spec.default, bool):
        positive, _, negative = (spec.flag or spec.option_name).partition("/")
        return positive if spec.default else (negative or "off")
    if isinstance(spec.default, tuple):
        return ",".join(map(str, spec.default)) or False   # an empty list: nothing to show
    return str(spec.default)


def given_option(spec: FieldSpec) -> Any:
    """Optional[type] defaulting to None, showing the field's default in --help."""
    inner, _ = base_type(spec.type)
    if inner is bool:
        names = [spec.flag] if spec.flag else [f"{spec.option_name}/--no-{spec.option_name[2:]}"]
    else:
        names = [spec.option_name]
    kind = inner if inner in (int, float, bool, str) else str   # lists come as "a,b,c"
    return Annotated[Optional[kind], typer.Option(*names, help=help_text(spec), show_default=shown_default(spec))]


RUN_OPTIONS: list[tuple[str, Any]] = [
    ("out", Annotated[Optional[Path], typer.Option("--out", help="Checkpoint directory to write.",
                                                   show_default=False)]),
    ("resume", Annotated[Optional[bool], typer.Option("--resume/--no-resume", show_default=False,
                                                      help="Continue the run saved in --out exactly.")]),
    ("overwrite", Annotated[Optional[bool], typer.Option("--overwrite/--no-overwrite", show_default=False,
                                                         help="Replace the checkpoint in --out (its files only).")]),
    ("config", Annotated[Optional[Path], typer.Option("--config", show_default=False,
                                                      help="TOML file of option values (the command line wins).")]),
    ("quiet", Annotated[Optional[bool], typer.Option("--quiet/--no-quiet", "-q", show_default=False,
                                                     help="No progress bar or messages.")]),
    ("json", Annotated[Optional[bool], typer.Option("--json/--no-json", show_default=False,
                                                    help="Print the final figures as JSON on stdout.")]),
]


def train_command(task_spec, run: Callable[[str, dict[str, Any], Path | None], None]) -> Callable[..., None]:
    """The `rnncli train TASK` command: input files, --out, every setting, run options."""
    parameters: list[P] = []
    for item in task_spec.inputs:
        annotation = Annotated[Optional[Path], typer.Option(item.option_name, help=item.help, show_default=False)]
        parameters.append(P(item.name, P.KEYWORD_ONLY, default=None, annotation=annotation))
    for name, annotation in RUN_OPTIONS[:1]:
        parameters.append(P(name, P.KEYWORD_ONLY, default=None, annotation=annotation))
    # the task's own options first, then the training loop's
    specs = {**field_specs(task_spec.settings), **field_specs(task_spec.training)}
    for name, spec in specs.items():
        parameters.append(P(name, P.KEYWORD_ONLY, default=None, annotation=given_option(spec)))
    for name, annotation in RUN_OPTIONS[1:]:
        parameters.append(P(name, P.KEYWORD_ONLY, default=None, annotation=annotation))

    def command(**kwargs: Any) -> None:
        config = kwargs.pop("config")
        given = {k: (str(v) if isinstance(v, Path) else v) for k, v in kwargs.items() if v is not None}
        run(task_spec.name, given, config)

    command.__signature__ = inspect.Signature(parameters)
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    command.__doc__ = task_spec.help
    return command
