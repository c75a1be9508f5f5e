"""``whence lsp``: a Language Server that shows copied code in any LSP editor.

Two modules:

* :mod:`.document` -- one open document scanned against the index (the scan engine's parts for one
  file: :func:`whence.index.cover.cover`, judged by :func:`whence.scan.findings.judge` under the policy),
  its findings turned into diagnostics and attribution comments.  It needs no pygls.
* :mod:`.server` -- the pygls server: document events, debouncing, the scan thread, diagnostics and the
  ``quickfix`` code action.  pygls comes with the ``lsp`` extra (``pip install 'whence[lsp]'``).
"""

from __future__ import annotations
