"""One module per task model; each composes core/ blocks and owns its config dataclass."""
