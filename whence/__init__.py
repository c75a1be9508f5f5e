"""whence: where did this code come from?

The implementation lives in subpackages, each a folder at the top of the repository:
``whence.index`` (``index/``: lexer, fingerprints, stores, search), ``whence.scan`` (``scan/``: the CI
scan engine), ``whence.generator`` (``generator/``: StarCoder2 with attribution), and the two products
on top of them: ``whence.cli`` (``cli/``: the ``whence`` command, also ``python -m whence``) and
``whence.api`` (``api/``: the HTTP service). ``whence.errors`` is the one exception tree they all raise from.
"""

__version__ = "0.1.0"
