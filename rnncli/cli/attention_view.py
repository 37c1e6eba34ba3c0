"""A terminal heatmap of attention weights with rich: source pieces across, target pieces down.

Each cell is a background shade from light (weight 0) to dark (weight 1); the strongest
source position of each target row is marked, so alignments read at a glance even
without colour.
"""

from __future__ import annotations

from typing import Sequence

MAX_PIECE = 8  # characters of a piece shown in a column header


def shade(weight: float) -> str:
    """A rich style whose background darkens with the weight (grey ramp, 0 -> 1)."""
    level = 255 - int(round(max(0.0, min(1.0, weight)) * 200))
    fg = "black" if level > 150 else "white"
    return f"{fg} on rgb({level},{level},{min(255, level + 40)})"


def attention_heatmap(source: Sequence[str], target: Sequence[str], weights: Sequence[Sequence[float]],
                      title: str = ""):
    """-> a rich Table (print it with a Console)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title or None, title_justify="left", show_lines=False, pad_edge=False,
                  box=None, padding=(0, 0))
    table.add_column("", justify="right", no_wrap=True)
    for piece in source:
        table.add_column(Text(piece[:MAX_PIECE], style="bold"), justify="center", no_wrap=True)
    for piece, row in zip(target, weights):
        strongest = max(range(len(row)), key=row.__getitem__) if row else -1
        cells = [Text(f"{'*' if i == strongest else ' '}{w:.2f} ", style=shade(w)) for i, w in enumerate(row)]
        table.add_row(Text(piece + " ", style="bold"), *cells)
    return table
