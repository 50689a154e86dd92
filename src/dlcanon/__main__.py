"""`python -m dlcanon` (and `torchrun -m dlcanon`) runs the CLI."""

from dlcanon.cli import main

if __name__ == "__main__":
    main()
