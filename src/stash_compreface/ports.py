"""The ports a task writes through, and the read-only wrappers a dry run gets instead.

A task changes the world through three ports only: the Stash client (its mutations), the face service (its
writing methods: ``add_example``, ``delete_example``, ``delete_subject``) and the state folder's files
(:class:`StateFiles`: the scene page's faces, the hook queue). The state file itself is opened as an
in-memory copy in a dry run (``tasks/state/``), and so is the built-in engine's face store
(``engine/store.py``), so neither is migrated, moved aside or written.

The session (``runtime/session.py``) builds the context, and in a dry run wraps each port once, there:
:func:`read_only_stash`, :func:`read_only_face_service`, :class:`ReadOnlyStateFiles`. Each wrapper logs
"dry run: would …" for a write and returns a plausible value (no id: ``""``), so a write that bypassed the
writer's own dry-run check (``tasks/writes.py``) is still only logged. The wrappers fail closed: the Stash
wrapper sends Stash nothing but queries (a mutation it does not know raises :class:`DryRunRefused`), and
the face-service wrapper offers only the methods of the ``FaceService`` interface.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .faces.models import Face
from .faceservice import ExampleRef, FaceService
from .media import MemoryBudget, Spool
from .stash.client import StashClient, document
from .stash.models import ItemKind, Performer

Log = Callable[[str, str], None]

_COMMENT = re.compile(r"#[^\n]*")


class DryRunRefused(RuntimeError):
    """A dry run reached a write the read-only ports have no answer for: nothing was written. A bug of the
    plugin (a write that bypassed the writer), reported as such rather than performed."""


def is_query(text: str) -> bool:
    """Whether a GraphQL document is a query (read only): its first word is ``query``, or it is the ``{ … }``
    shorthand. Anything else (mutations, subscriptions, something unparsable) counts as a write."""
    body = _COMMENT.sub("", text).lstrip()
    return body.startswith("{") or re.match(r"query\b", body) is not None


def _ids(values: Iterable[str]) -> str:
    return ", ".join(values) or "-"


class ReadOnlyStash(StashClient):
    """A dry run's Stash client: queries and media go to Stash through the real client's connection; no
    mutation does. The known mutations are logged and answered plausibly; any other document that is not a
    query raises :class:`DryRunRefused` before it is sent.

    A subclass, so the client's own methods run unchanged on top of it: they all send through
    :meth:`execute`, which is where the check is. The connection, cookie and key stay the wrapped client's.
    """

    def __init__(self, inner: StashClient, log: Log) -> None:  # no super().__init__: the inner client connects
        self._inner = inner
        self._log = log

    def __getattr__(self, name: str) -> Any:
        # Only reached for what this object does not have itself: the inner client's connection state.
        if name in ("_inner", "_log"):
            raise AttributeError(name)
        return getattr(self._inner, name)

    def _would(self, message: str) -> None:
        self._log("info", f"dry run: would {message}")

    # -- the check ---------------------------------------------------------------------------------

    def execute(self, operation: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        if not is_query(document(operation)):
            self._would(f"send {operation} to Stash")
            raise DryRunRefused(f"dry run: {operation} is a Stash mutation and was not sent")
        return self._inner.execute(operation, variables)

    def _post(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        if not is_query(str(body.get("query", ""))):
            self._would(f"send {operation} to Stash")
            raise DryRunRefused(f"dry run: {operation} is a Stash mutation and was not sent")
        return self._inner._post(operation, body)

    # -- the connection is the inner client's ---------------------------------------------------------

    @property
    def base_url(self) -> str:  # type: ignore[override]
        return self._inner.base_url

    @base_url.setter
    def base_url(self, url: str) -> None:
        self._inner.base_url = url

    def close(self) -> None:
        self._inner.close()

    def resize_pool(self, max_connections: int) -> None:
        self._inner.resize_pool(max_connections)

    def set_api_key(self, api_key: str | None) -> None:
        self._inner.set_api_key(api_key)

    def auth_headers(self) -> dict[str, str]:
        return self._inner.auth_headers()

    def rebase(self, url: str) -> str:
        return self._inner.rebase(url)

    def download(self, url: str, *, what: str, budget: MemoryBudget | None = None) -> Spool:
        return self._inner.download(url, what=what, budget=budget)

    # -- the mutations, said and answered --------------------------------------------------------------

    def create_tag(self, name: str) -> str:
        self._would(f"create tag {name!r}")
        return ""

    def update_items(self, kind: ItemKind, ids: Iterable[str], *, add_tags: Iterable[str] = (),
                     remove_tags: Iterable[str] = (), add_performers: Iterable[str] = ()) -> None:
        self._would(f"update {kind.value}s {_ids(ids)}: add tags {_ids(add_tags)}, remove tags {_ids(remove_tags)}, "
                    f"link performers {_ids(add_performers)}")

    def create_performer(self, name: str, *, image_url: str | None = None, gender: str | None = None) -> Performer:
        self._would(f"create performer {name}")
        return Performer(id="", name=name, aliases=(), image_url="", tag_ids=frozenset())

    def update_performers(self, ids: Iterable[str], *, add_tags: Iterable[str] = (), remove_tags: Iterable[str] = (),
                          add_aliases: Iterable[str] = ()) -> None:
        self._would(f"update performers {_ids(ids)}: add tags {_ids(add_tags)}, remove tags {_ids(remove_tags)}, "
                    f"add aliases {_ids(add_aliases)}")

    def remove_from_items(self, kind: ItemKind, ids: Iterable[str], *, tags: Iterable[str] = (),
                          performers: Iterable[str] = ()) -> None:
        self._would(f"remove tags {_ids(tags)} and performers {_ids(performers)} from {kind.value}s {_ids(ids)}")

    def remove_from_performers(self, ids: Iterable[str], *, tags: Iterable[str] = (),
                               aliases: Iterable[str] = ()) -> None:
        self._would(f"remove tags {_ids(tags)} and aliases {_ids(aliases)} from performers {_ids(ids)}")

    def destroy_performer(self, performer_id: str) -> None:
        self._would(f"delete performer {performer_id}")


def read_only_stash(stash: StashClient, log: Log) -> StashClient:
    return stash if isinstance(stash, ReadOnlyStash) else ReadOnlyStash(stash, log)


class ReadOnlyFaceService:
    """A dry run's face service: the reads of the ``FaceService`` interface go to the service, the writes are
    logged and answered plausibly. Nothing else of the service is reachable (its store, say)."""

    def __init__(self, inner: FaceService, log: Log) -> None:
        self._inner = inner
        self._log = log

    def _would(self, message: str) -> None:
        self._log("info", f"dry run: would {message}")

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def max_upload_bytes(self) -> int:
        return self._inner.max_upload_bytes

    def check(self) -> None:
        self._inner.check()

    def recognize(self, image: bytes, *, min_probability: float, candidates: int = 5,
                  embeddings: bool = False, min_face_px: int = 0) -> list[Face]:
        return self._inner.recognize(image, min_probability=min_probability, candidates=candidates,
                                     embeddings=embeddings, min_face_px=min_face_px)

    def detect(self, image: bytes, *, min_probability: float, embeddings: bool = False) -> list[Face]:
        return self._inner.detect(image, min_probability=min_probability, embeddings=embeddings)

    def recognize_embeddings(self, embeddings: list[list[float]], *, candidates: int = 5) -> list[Face]:
        return self._inner.recognize_embeddings(embeddings, candidates=candidates)

    def list_subjects(self) -> list[str]:
        return self._inner.list_subjects()

    def count_examples(self, subject: str) -> int:
        return self._inner.count_examples(subject)

    def list_examples(self, subject: str) -> list[ExampleRef]:
        return self._inner.list_examples(subject)

    def example_image(self, example_id: str) -> bytes:
        return self._inner.example_image(example_id)

    def add_example(self, subject: str, image: bytes) -> str:
        self._would(f"add an example to subject {subject}")
        return ""

    def delete_subject(self, subject: str) -> None:
        self._would(f"delete subject {subject}")

    def delete_example(self, example_id: str) -> None:
        self._would(f"delete example {example_id}")

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


def read_only_face_service(service: FaceService, log: Log) -> FaceService:
    return service if isinstance(service, ReadOnlyFaceService) else ReadOnlyFaceService(service, log)


class StateFiles:
    """The state folder's files beside the state file and the face store: the scene page's faces
    (``scene-faces/``) and the hook queue (``hook-queue/``). Reading needs no port (``path`` is enough); every
    change goes through here. ``folder`` None (the state in memory): nothing is kept."""

    read_only = False

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def path(self, *parts: str) -> Path | None:
        return None if self.folder is None else self.folder.joinpath(*parts)

    def replace_folder(self, target: Path, files: Mapping[str, bytes]) -> None:
        """Make ``target`` hold exactly ``files`` (name -> content), atomically: staged beside it, then
        renamed over it. When another writer replaces it at the same moment, theirs stays (as good)."""
        tag = f"{os.getpid()}-{threading.get_ident()}"
        staging, old = target.with_name(f".new-{target.name}-{tag}"), target.with_name(f".old-{target.name}-{tag}")
        staging.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (staging / name).write_bytes(content)
        try:
            if target.exists():
                target.rename(old)
            staging.rename(target)
        except OSError:
            pass
        for leftover in (staging, old):
            shutil.rmtree(leftover, ignore_errors=True)

    def remove_tree(self, target: Path) -> None:
        shutil.rmtree(target, ignore_errors=True)

    def remove(self, target: Path) -> None:
        """Delete one file; one already gone is fine."""
        with contextlib.suppress(FileNotFoundError):
            target.unlink()


class ReadOnlyStateFiles(StateFiles):
    """A dry run's state folder: read as it is, changed never (each change is logged at debug)."""

    read_only = True

    def __init__(self, folder: Path | None, log: Log) -> None:
        super().__init__(folder)
        self._log = log

    def _would(self, message: str) -> None:
        self._log("debug", f"dry run: would {message}")

    def replace_folder(self, target: Path, files: Mapping[str, bytes]) -> None:
        self._would(f"keep {len(files)} file(s) in {target}")

    def remove_tree(self, target: Path) -> None:
        self._would(f"delete {target}")

    def remove(self, target: Path) -> None:
        self._would(f"delete {target}")


__all__ = ["DryRunRefused", "ReadOnlyFaceService", "ReadOnlyStash", "ReadOnlyStateFiles", "StateFiles", "is_query",
           "read_only_face_service", "read_only_stash"]
