"""The Stack v2's datasets, and the selections that reproduce what each StarCoder2 model was trained on.

A shard's dataset and revision are read from where it is -- ``hf://datasets/<org>/<name>@<rev>/...``,
a Hugging Face cache folder ``.../datasets--<org>--<name>/snapshots/<rev>/...``, or a folder named
after one of the datasets -- so that an index can record what it was built from and
``whence index sync`` can bring it to a newer revision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from whence.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Dataset:
    """One of The Stack v2's published datasets."""

    name: str
    layout: str  # "per-file" or "nested"
    about: str


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset("bigcode/the-stack-v2", "per-file", "every file, 600+ languages, one row per file"),
        Dataset("bigcode/the-stack-v2-dedup", "per-file", "the-stack-v2 near-deduplicated"),
        Dataset(
            "bigcode/the-stack-v2-train-full-ids",
            "nested",
            "-dedup filtered for training, 600+ languages, one row per repository (StarCoder2-15B)",
        ),
        Dataset(
            "bigcode/the-stack-v2-train-smol-ids",
            "nested",
            "-dedup filtered for training, 17 languages, one row per repository (StarCoder2-3B and -7B)",
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Subset:
    """A named selection: the dataset a model was trained on, and the license types it kept."""

    name: str
    dataset: str
    license_types: frozenset[str]
    model: str


#: StarCoder2 trained on files whose license_type is permissive *and* on those with no license (which
#: grant nothing: verbatim reuse of them is the riskiest case), from the datasets its paper names.
_TRAINED = frozenset({"permissive", "no_license"})
SUBSETS: dict[str, Subset] = {
    s.name: s
    for s in (
        Subset("starcoder2-15b", "bigcode/the-stack-v2-train-full-ids", _TRAINED, "bigcode/starcoder2-15b"),
        Subset("starcoder2-7b", "bigcode/the-stack-v2-train-smol-ids", _TRAINED, "bigcode/starcoder2-7b"),
        Subset("starcoder2-3b", "bigcode/the-stack-v2-train-smol-ids", _TRAINED, "bigcode/starcoder2-3b"),
    )
}


def subset(name: str) -> Subset:
    """The subset named ``name``; :class:`InvalidInput` listing the known ones otherwise."""
    try:
        return SUBSETS[name]
    except KeyError:
        raise InvalidInput(f"--subset {name!r}: expected one of {', '.join(sorted(SUBSETS))}") from None


_HF_URL = re.compile(r"^hf://datasets/([^/@]+/[^/@]+)(?:@([^/]+))?(?:/|$)")
_HF_CACHE = re.compile(r"(?:^|/)datasets--([^/]+?)--([^/]+)/snapshots/([^/]+)/")
_NAMED_FOLDER = re.compile(r"(?:^|/)(the-stack-v2(?:-dedup|-train-full-ids|-train-smol-ids)?)/")


def identify(location: str) -> tuple[str, str]:
    """``(dataset, revision)`` of a shard from its location; ``""`` for what the location does not say.

    >>> identify("hf://datasets/bigcode/the-stack-v2-train-full-ids@c0ffee/data/train-00000-of-00001.parquet")
    ('bigcode/the-stack-v2-train-full-ids', 'c0ffee')
    """
    text = location.replace("\\", "/")
    m = _HF_URL.match(text)
    if m:
        from urllib.parse import unquote

        return m.group(1), unquote(m.group(2) or "")
    m = _HF_CACHE.search(text)
    if m:
        return f"{m.group(1)}/{m.group(2)}", m.group(3)
    m = _NAMED_FOLDER.search(text)
    if m:
        return f"bigcode/{m.group(1)}", ""
    return "", ""
