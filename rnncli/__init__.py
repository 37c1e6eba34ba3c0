"""rnncli: a command-line NLP toolkit on recurrent networks."""

__version__ = "0.1.0"
