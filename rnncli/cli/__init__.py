"""The command layer: the only place that imports typer or rich, prints, or exits."""
