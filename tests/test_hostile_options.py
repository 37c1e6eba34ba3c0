"""Property-based tests over option parsing: any values, from the API or a --config file,
give settings or a one-line ConfigError/UsageError (exit 2), never another exception."""

from __future__ import annotations

import json
import math

from hypothesis import HealthCheck, given, settings, strategies as st

from rnncli.api import RUN_OPTIONS, make_run
from rnncli.config import field_specs, read_config_file
from rnncli.errors import RnncliError
from rnncli.tasks import TASKS

NAMES = sorted({name for spec in TASKS.values() for cls in (spec.training, spec.settings)
                for name in field_specs(cls)} | set(RUN_OPTIONS) | {i.name for s in TASKS.values() for i in s.inputs})
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=True),
                    st.text(max_size=12))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                            max_size=3), max_leaves=6)
options = st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=8), values, max_size=5)
PROPERTY = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])


def exit_2_in_one_line(call) -> None:
    try:
        call()
    except RnncliError as exc:
        assert exc.exit_code == 2 and "\n" not in str(exc) and str(exc)


@PROPERTY
@given(task=st.sampled_from(sorted(TASKS)), values=options)
def test_any_api_options_give_settings_or_one_line_exit_2(task, values):
    files = {i.name: "x.txt" for i in TASKS[task].inputs}
    exit_2_in_one_line(lambda: make_run(task, {**files, "out": "out", **values}))


def toml_value(value) -> str | None:
    """`value` written as TOML, or None where TOML has no form for it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if abs(value) < 2 ** 63 else None
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        items = [toml_value(v) for v in value]
        return None if None in items else "[" + ", ".join(items) + "]"
    return None


@PROPERTY
@given(task=st.sampled_from(sorted(TASKS)), values=options, table=st.sampled_from(["", "[model]\n", "[training]\n"]))
def test_any_config_file_gives_settings_or_one_line_exit_2(tmp_path_factory, task, values, table):
    lines = [f"{json.dumps(k)} = {toml_value(v)}" for k, v in values.items() if toml_value(v) is not None]
    path = tmp_path_factory.mktemp("cfg") / "run.toml"
    path.write_text(table + "\n".join(lines) + "\n", encoding="utf-8")
    files = {i.name: "x.txt" for i in TASKS[task].inputs}
    exit_2_in_one_line(lambda: make_run(task, {**files, "out": "out"}, path))


@PROPERTY
@given(data=st.binary(max_size=200))
def test_any_bytes_as_a_config_file_are_read_or_refused_in_one_line(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("cfg") / "run.toml"
    path.write_bytes(data)
    exit_2_in_one_line(lambda: read_config_file(path))
