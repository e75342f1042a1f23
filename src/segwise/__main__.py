"""``python -m segwise``: the command-line interface."""

from segwise.cli import main

if __name__ == "__main__":  # not when a worker process (spawn) imports it
    main()
