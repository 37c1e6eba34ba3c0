"""rnncli: a command-line NLP toolkit on recurrent networks, and its Python API.

    import rnncli
    model = rnncli.load("runs/ner")          # the task's object: .tag(lines), .classify(lines), ...
    rnncli.train("classify", train="train.tsv", valid="dev.tsv", out="runs/sent")

`load`, `train`, `evaluate` and `info` come from rnncli.api, imported on first use so that
`import rnncli` (and `rnncli --help`) stays fast.
"""

from rnncli.version import __version__

__all__ = ["__version__", "load", "train", "evaluate", "info"]
API = ("load", "train", "evaluate", "info")


def __getattr__(name: str):
    if name in API:
        from rnncli import api

        return getattr(api, name)
    raise AttributeError(f"module 'rnncli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
