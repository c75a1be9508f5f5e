"""``python -m whence.api`` runs the CLI."""

from whence.api.cli import main

# Guarded: `whence scan` starts worker processes, which import the main module again.
if __name__ == "__main__":
    main()
