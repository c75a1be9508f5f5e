"""whence: where did this code come from?

The implementation lives in three subpackages, each a folder at the top of the repository:
``whence.index`` (``index/``: lexer, fingerprints, stores, search), ``whence.api`` (``api/``: the CLI
and the HTTP service) and ``whence.generator`` (``generator/``: StarCoder2 with attribution).
"""

__version__ = "0.1.0"
