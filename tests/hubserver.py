"""A small Hugging Face Hub over a local folder, for testing the real ``huggingface_hub`` client.

It speaks the part of the Hub's HTTP API that :class:`huggingface_hub.HfFileSystem` calls to list, glob,
resolve a revision, describe paths and read byte ranges (read from the library's own source:
``HfApi.repo_info``/``dataset_info``, ``list_repo_tree``, ``get_paths_info``, ``hf_hub_url`` and
``HfFileSystemFile._fetch_range``):

* ``GET /api/{type}s/{org}/{name}[/revision/{rev}]``: the repository at a revision, with its commit
  ``sha`` and ``siblings``;
* ``GET /api/{type}s/{org}/{name}/tree/{rev}[/{path}]?recursive=&expand=``: a folder's entries (all of
  them below it when ``recursive``), paginated with a ``Link: <...>; rel="next"`` header as the Hub does;
* ``POST /api/{type}s/{org}/{name}/paths-info/{rev}`` (form ``paths=...&expand=...``): entries by path;
* ``GET``/``HEAD /[{type}s/]{org}/{name}/resolve/{rev}/{path}``: the file's bytes, a ``Range`` header
  answered with ``206``;
* errors as the Hub gives them: ``404`` with ``X-Error-Code: RepoNotFound``, ``RevisionNotFound`` or
  ``EntryNotFound`` (the header the client turns into its exception classes).

A repository is the folder ``root/{type}s/{org}/{name}``, at one commit: its sha is a hash of the files'
paths and contents (stable while they do not change), and every name in ``branches`` points at it.
``*.parquet`` files are stored "in LFS", as on the Hub: their entries carry ``lfs.oid`` (the sha256 of
the bytes), the others only a git blob id.  Requests and the byte ranges sent are recorded.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from tests import folderserver

#: Entries per page of a ``tree`` listing (the Hub's is 1,000; tests pass a small one to paginate).
PAGE_ITEMS = 1000
CHUNK = 16 << 10
REPO_TYPES = ("model", "dataset", "space")


def git_blob_id(data: bytes) -> str:
    """The git blob id (sha1) of ``data``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubFolder(folderserver.Folder):
    """Serve ``root/{type}s/{org}/{name}`` as Hub repositories on 127.0.0.1 (a free port) until
    :meth:`stop`."""

    def __init__(
        self, root: Path, *, branches: tuple[str, ...] = ("main",), page_items: int = PAGE_ITEMS
    ) -> None:
        super().__init__(root)  # ranges: (org/name/path, first, last)
        self.branches = branches
        self.page_items = page_items
        outer = self

        class Handler(folderserver.Handler):
            def _json(self, doc: Any, headers: dict[str, str] | None = None) -> None:
                self._send(
                    200, json.dumps(doc).encode(), {"Content-Type": "application/json", **(headers or {})}
                )

            def _error(self, code: str, message: str, status: int = 404) -> None:
                body = json.dumps({"error": message}).encode()
                self._send(status, body, {"Content-Type": "application/json", "X-Error-Code": code,
                                          "X-Error-Message": message})  # fmt: skip

            def do_GET(self) -> None:
                self._route()

            def do_HEAD(self) -> None:
                self._route()

            def do_POST(self) -> None:
                self._route()

            def _route(self) -> None:
                split = urlsplit(self.path)
                with outer._lock:
                    outer.requests.append(f"{self.command} {split.path}")
                query = parse_qs(split.query, keep_blank_values=True)
                # Split the raw path first: a revision such as refs/convert/parquet arrives as one
                # %2F-quoted segment.
                segs = split.path.strip("/").split("/")
                if segs[0] == "api" and len(segs) >= 4 and segs[1] in [t + "s" for t in REPO_TYPES]:
                    repo = outer._repo(segs[1], segs[2], segs[3])
                    if repo is None:
                        return self._error("RepoNotFound", "Repository not found", 401)
                    if len(segs) == 4:
                        return self._info(repo, "main")
                    action, rest = segs[4], segs[5:]
                    if not rest:
                        return self._error("EntryNotFound", f"no route {split.path}")
                    rev, path = unquote(rest[0]), unquote("/".join(rest[1:]))
                    if not outer._has_revision(repo, rev):
                        return self._error("RevisionNotFound", f"Invalid rev id: {rev}")
                    if action == "revision":
                        return self._info(repo, rev)
                    if action == "tree":
                        return self._tree(repo, rev, path, query, split.path)
                    if action == "paths-info" and self.command == "POST":
                        return self._paths_info(repo)
                    return self._error("EntryNotFound", f"no route {split.path}")
                kind = "models"
                if segs[0] in ("datasets", "spaces"):
                    kind, segs = segs[0], segs[1:]
                if len(segs) >= 5 and segs[2] == "resolve":
                    repo = outer._repo(kind, segs[0], segs[1])
                    if repo is None:
                        return self._error("RepoNotFound", "Repository not found", 401)
                    rev, path = unquote(segs[3]), unquote("/".join(segs[4:]))
                    if not outer._has_revision(repo, rev):
                        return self._error("RevisionNotFound", f"Invalid rev id: {rev}")
                    return self._resolve(repo, path)
                return self._error("EntryNotFound", f"no route {split.path}")

            def _info(self, repo: Path, rev: str) -> None:
                if not outer._has_revision(repo, rev):
                    return self._error("RevisionNotFound", f"Invalid rev id: {rev}")
                files = outer._files(repo)
                self._json({
                    "_id": outer.sha(repo)[:24], "id": outer.repo_id(repo), "author": repo.parent.name,
                    "sha": outer.sha(repo), "private": False, "gated": False, "disabled": False,
                    "lastModified": "2024-01-01T00:00:00.000Z", "tags": [], "downloads": 0, "likes": 0,
                    "siblings": [{"rfilename": f} for f in files],
                })  # fmt: skip

            def _tree(self, repo: Path, rev: str, path: str, query: dict[str, list[str]], url: str) -> None:
                base = (repo / path).resolve() if path else repo
                if not base.is_relative_to(repo) or not base.is_dir():
                    return self._error("EntryNotFound", f"{path} does not exist on {rev!r}")
                recursive = query.get("recursive", ["False"])[0].lower() == "true"
                children = base.rglob("*") if recursive else base.iterdir()
                # The Hub lists a folder's subfolders first, then its files.
                entries = sorted(children, key=lambda p: (p.is_file(), p.relative_to(repo).as_posix()))
                start = int(query.get("cursor", ["0"])[0] or 0)
                page = entries[start : start + outer.page_items]
                headers = {}
                if start + outer.page_items < len(entries):
                    params = "&".join(f"{k}={quote(v[0])}" for k, v in query.items() if k != "cursor")
                    headers["Link"] = (
                        f"<http://{self.headers['Host']}{url}?{params}&cursor={start + outer.page_items}>; "
                        'rel="next"'
                    )
                self._json([outer.entry(repo, p) for p in page], headers)

            def _paths_info(self, repo: Path) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
                out = []
                for wanted in form.get("paths", []):
                    target = (repo / wanted.strip("/")).resolve()
                    if target.is_relative_to(repo) and target != repo and target.exists():
                        out.append(outer.entry(repo, target))
                self._json(out)

            def _resolve(self, repo: Path, path: str) -> None:
                target = (repo / path).resolve()
                if not target.is_relative_to(repo) or not target.is_file():
                    return self._error("EntryNotFound", f"{path} does not exist")
                data = target.read_bytes()
                lfs = outer.is_lfs(target)
                headers = {
                    "Content-Type": "application/octet-stream",
                    "Accept-Ranges": "bytes",
                    "X-Repo-Commit": outer.sha(repo),
                    "ETag": '"' + (hashlib.sha256(data).hexdigest() if lfs else git_blob_id(data)) + '"',
                }
                first, last, status = 0, len(data) - 1, 200
                wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", "") or "")
                if wanted:
                    first = int(wanted.group(1))
                    last = min(int(wanted.group(2)), len(data) - 1) if wanted.group(2) else len(data) - 1
                    if first >= len(data):
                        return self._error("RangeNotSatisfiable", "range not satisfiable", 416)
                    status = 206
                    headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
                outer.send_slice(self, f"{outer.repo_id(repo)}/{path}", status, data, first, last, headers)

        self.serve(Handler)

    # -- the repositories -------------------------------------------------------------------------

    def _repo(self, kind: str, org: str, name: str) -> Path | None:
        folder = (self.root / kind / unquote(org) / unquote(name)).resolve()
        ok = folder.is_relative_to(self.root.resolve()) and folder.is_dir()
        return folder if ok else None

    def repo_id(self, repo: Path) -> str:
        return f"{repo.parent.name}/{repo.name}"

    def _files(self, repo: Path) -> list[str]:
        return sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file())

    def sha(self, repo: Path) -> str:
        """The repository's one commit: a hash of its files' paths and contents."""
        h = hashlib.sha1()
        for f in self._files(repo):
            h.update(f.encode() + b"\0" + hashlib.sha256((repo / f).read_bytes()).digest())
        return h.hexdigest()

    def _has_revision(self, repo: Path, rev: str) -> bool:
        return rev in self.branches or rev == self.sha(repo)

    @staticmethod
    def is_lfs(path: Path) -> bool:
        return path.suffix == ".parquet"

    def entry(self, repo: Path, path: Path) -> dict[str, Any]:
        """A ``tree``/``paths-info`` entry, as the Hub writes it."""
        rel = path.relative_to(repo).as_posix()
        if path.is_dir():
            return {"type": "directory", "oid": hashlib.sha1(rel.encode()).hexdigest(), "path": rel}
        data = path.read_bytes()
        out: dict[str, Any] = {"type": "file", "oid": git_blob_id(data), "size": len(data), "path": rel}
        if self.is_lfs(path):
            sha256 = hashlib.sha256(data).hexdigest()
            pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {len(data)}\n"
            out["oid"] = git_blob_id(pointer.encode())
            out["lfs"] = {"oid": sha256, "size": len(data), "pointerSize": len(pointer)}
        return out
