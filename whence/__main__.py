"""``python -m whence`` runs the ``whence`` command (:mod:`whence.cli`)."""

from whence.cli import main

# Guarded: `whence scan` starts worker processes, which import the main module again.
if __name__ == "__main__":
    main()
