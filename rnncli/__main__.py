"""`python -m rnncli` (also what `torchrun -m rnncli` runs on every rank)."""

from rnncli.cli.app import main

if __name__ == "__main__":
    main()
