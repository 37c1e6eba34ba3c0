"""The import direction of DESIGN.md §2, checked on the source: every `import` of every
module (function-level ones included) may point down or sideways, never up.

    cli -> api -> tasks -> engine (training, decoding, metrics, checkpoint, ...) -> models -> core
    base modules (errors, config, tokenizer, readers, ...) are leaves any layer may use;
    core imports nothing of rnncli; nothing imports cli.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "rnncli"
LAYERS = [
    ("base", {"errors", "version", "atomic", "config", "tokenizer", "readers", "schemes", "embeddings",
              "signals", "memory", "timestamps", "seasons", "threads"}),
    ("core", {"core"}),
    ("models", {"models"}),
    ("engine", {"runtime", "batching", "optim", "checkpoint", "training", "train_events", "decoding", "metrics", "rundir",
                "baselines", "train_window"}),
    ("tasks", {"tasks", "datacheck"}),
    ("export", {"export"}),
    ("api", {"api"}),
    ("cli", {"cli", "__main__"}),
]
RANK = {name: rank for rank, (_, names) in enumerate(LAYERS) for name in names}
FACADE = "__init__"   # rnncli/__init__.py: the package's public face, above the api


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top(module: str) -> str:
    """rnncli.tasks.lm -> tasks; rnncli -> __init__ (the facade)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else FACADE


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import of rnncli code in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "rnncli"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "rnncli":
            for alias in node.names:   # `from rnncli import api` imports the module rnncli.api
                candidate = f"{node.module}.{alias.name}"
                is_module = (ROOT / Path(*candidate.split("."))).with_suffix(".py").exists() or \
                    (ROOT / Path(*candidate.split("."))).is_dir()
                found.append((node.lineno, candidate if is_module else node.module))
    return found


def layer_problems() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = top(module_name(path))
        if path == PACKAGE / "__init__.py":
            source = FACADE
        for line, target_module in imports(path):
            target = top(target_module)
            where = f"{path.relative_to(ROOT)}:{line} imports {target_module}"
            if source == FACADE:
                if target not in ("version", "api"):
                    problems.append(f"{where}: the package facade may import only version and api")
                continue
            if source not in RANK:
                problems.append(f"{where}: {source!r} is in no layer (add it to LAYERS)")
                continue
            if target == FACADE:
                if source != "cli" or target_module != "rnncli":
                    problems.append(f"{where}: import rnncli.version instead of the package facade")
                continue
            if target not in RANK:
                problems.append(f"{where}: {target!r} is in no layer (add it to LAYERS)")
            elif RANK[target] > RANK[source]:
                problems.append(f"{where}: points up ({LAYERS[RANK[source]][0]} -> {LAYERS[RANK[target]][0]})")
            elif source == "core" and target != "core":
                problems.append(f"{where}: core imports only torch and core")
    return problems


def test_every_import_points_down():
    assert layer_problems() == []


def test_the_check_catches_an_upward_import(tmp_path, monkeypatch):
    """The checker itself: a base module importing a task must be named."""
    fake = PACKAGE / "errors.py"
    original = imports

    def with_bad_import(path):
        found = original(path)
        return found + [(1, "rnncli.tasks.lm")] if path == fake else found

    monkeypatch.setattr(f"{__name__}.imports", with_bad_import)
    problems = layer_problems()
    assert problems == ["rnncli/errors.py:1 imports rnncli.tasks.lm: points up (base -> tasks)"]


def test_help_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, rnncli, rnncli.cli.app; print(sorted(m for m in ('torch', 'sentencepiece', 'sacrebleu') if m in sys.modules))"
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert probe.stdout.strip() == "[]", probe.stderr
