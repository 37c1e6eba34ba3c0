"""Strict readers for every input format. Each error names `file:line`.

text.py holds plain text (shared by all tasks); the task formats live beside it:
labelled.py (TSV/CSV/JSONL/fastText), conll.py (CoNLL columns), parallel.py (aligned files).
"""

from rnncli.readers.text import iter_lines, read_lines, read_text

__all__ = ["iter_lines", "read_lines", "read_text"]
