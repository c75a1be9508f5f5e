"""``python -m whence.api`` runs the CLI."""

from whence.api.cli import main

main()
