"""Per-task glue: data -> model -> loss -> predict -> evaluate. Never prints."""
