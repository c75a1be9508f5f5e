"""The ``whence`` command line, one module per command group:

    whence index build|stats|optout ...   index.py
    whence search [FILE|-] ...            search.py   (render.py: its terminal output)
    whence scan [PATH...] ...             scan.py     (the engine is whence.scan)
    whence generate PROMPT ...            generate.py
    whence serve ...                      serve.py    (the service is whence.api)
    whence keys create|list|revoke ...    keys.py
    whence lsp ...                        lsp.py      (the server is whence.lsp)

What they share (``--index``, ``--format``, opening the index, failing) is in options.py.  Exit codes:
0 ok (also: nothing found), 2 usage or runtime error (missing index, bad input); ``scan`` and
``generate`` add 1 for "the policy says no".  Heavy modules are imported inside the commands, so that
``whence search`` starts fast and never imports torch or the HTTP service.
"""

from __future__ import annotations

import click

from whence import __version__

from .generate import generate_cmd
from .index import index_group
from .keys import keys_group
from .lsp import lsp_cmd
from .scan import scan_cmd
from .search import search_cmd
from .serve import serve_cmd

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="whence")
def main() -> None:
    """whence: where did this code come from, and under which license?"""


for _command in (index_group, search_cmd, serve_cmd, keys_group, generate_cmd, scan_cmd, lsp_cmd):
    main.add_command(_command)
