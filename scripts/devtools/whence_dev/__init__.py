"""Helpers shared by the scripts under ``scripts/`` and by the tests; not part of whence itself.

* :mod:`whence_dev.corpus`: a corpus of real code found on this machine (roots, licenses, families);
* :mod:`whence_dev.headers`: what a file's header of line comments says, as the boilerplate model counts it;
* :mod:`whence_dev.bench`: what the benchmarks share (peak RSS, rates, child runs, snippets, percentiles);
* :mod:`whence_dev.tiny_model`: the tiny test model's corpus, its fixture folder and the checksums the
  fixture records.

It is the project in ``scripts/devtools/`` (``whence-dev``), installed editable by ``scripts/setup``
next to whence, so the scripts and the tests import it like any package: no ``sys.path`` edits, no
loading of files by path.
"""
