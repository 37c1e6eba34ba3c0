"""Every command's --help ends with examples (issue 14): each example names only options of
its command (as its --help lists them), parses as that command's arguments, and reads
only sample files that exist in data/. Nothing is trained or run."""

from __future__ import annotations

import re
import shlex

import pytest
import typer

from conftest import ROOT

OPTION = re.compile(r"(?<![\w-])(--?[a-zA-Z][\w-]*)")


def leaf_commands() -> dict[str, object]:
    """'train lm', 'classify', 'data check', ...: every command that runs something."""
    from rnncli.cli.app import app

    found = {}

    def walk(group, prefix):
        for name, command in group.commands.items():
            path = f"{prefix}{name}"
            if hasattr(command, "commands"):
                walk(command, path + " ")
            else:
                found[path] = command
    walk(typer.main.get_command(app), "")
    return found


COMMANDS = leaf_commands()


def examples_of(epilog: str) -> list[str]:
    """The example command lines of an epilog: comments dropped, `\\` continuations joined."""
    commands, current = [], ""
    for raw in epilog.splitlines():
        line = raw.strip()
        if not line or line in ("\b", "Examples:") or line.startswith("#"):
            continue
        current = f"{current} {line}".strip()
        if current.endswith("\\"):
            current = current[:-1].rstrip()
            continue
        commands.append(current)
        current = ""
    assert current == "", f"an example ends with a continuation: {current!r}"
    return commands


def rnncli_words(example: str) -> list[str]:
    """The words after `rnncli` (of the last stage of a pipe), without a `> FILE` redirect."""
    words = shlex.split(example)
    if "|" in words:
        words = words[len(words) - words[::-1].index("|"):]
    if ">" in words:
        words = words[:words.index(">")]
    assert words[0] == "rnncli", example
    return words[1:]


def split_name(words: list[str]) -> tuple[str, list[str]]:
    if words[0] in ("train", "data"):
        return f"{words[0]} {words[1]}", words[2:]
    return words[0], words[1:]


def test_every_command_has_two_or_three_examples_of_itself():
    from rnncli.cli.examples import EXAMPLES

    assert set(EXAMPLES) == set(COMMANDS)
    for name, command in COMMANDS.items():
        assert command.epilog == EXAMPLES[name]
        examples = examples_of(command.epilog)
        assert 2 <= len(examples) <= 3, (name, examples)
        for example in examples:
            assert split_name(rnncli_words(example))[0] == name, (name, example)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_examples_use_options_of_the_command_and_existing_samples(cli, name):
    """Each option an example uses appears in the command's --help, the whole example parses
    as the command's arguments (types, ranges, counts), and data/ paths exist."""
    command = COMMANDS[name]
    shown = cli(*name.split(), "--help")
    assert shown.code == 0
    listed = set(OPTION.findall(shown.out.split("Examples:")[0]))
    for example in examples_of(command.epilog):
        _, args = split_name(rnncli_words(example))
        for word in args:
            if word.startswith("-") and word != "-" and not re.fullmatch(r"-?\d+(\.\d+)?", word):
                assert word.split("=")[0] in listed, f"{name}: {word} is not in --help ({example})"
            if word.startswith("data/"):
                assert (ROOT / word).is_file(), f"{name}: {word} does not exist ({example})"
        context = command.make_context(name, list(args))   # raises on what click would refuse
        context.close()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_prints_the_examples_as_written_within_80_columns(cli, name):
    """click keeps the `\\b` block as it is: every example line appears whole in --help."""
    shown = cli(*name.split(), "--help").out
    tail = shown.split("Examples:", 1)[1]
    assert shown.rstrip().endswith(COMMANDS[name].epilog.splitlines()[-1].strip())
    for line in COMMANDS[name].epilog.splitlines()[3:]:
        assert line in tail, (name, line)
    assert all(len(line) <= 80 for line in tail.splitlines()), name
