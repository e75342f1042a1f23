"""``python -m segwise``: the command-line interface."""

from segwise.cli import main

main()
