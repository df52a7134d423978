"""The state file's layout: ordered migrations, what a current file must contain, what a user loses when a
damaged one is moved aside (``sqlite_file.Schema`` opens, checks and migrates with them).

Tables, and the repository (``tasks/state/``) that owns each:

- ``candidates``, ``sightings``: :class:`~.candidates.Candidates` (who was seen where);
- ``candidates.performer_id``, ``pending_promotions``: :class:`~.candidates.Promotions`;
- ``learned``: :class:`~.examples.Learned`; ``transfers``: :class:`~.examples.Transfers`;
- ``refusals``: :class:`~.decisions.Refusals`; ``retired``: :class:`~.decisions.Retired`;
- ``unknown_faces``, ``due_candidates``: :class:`~.unknown.UnknownFaces` (what a batch run decides at its end);
- ``pending_merges``, ``merge_checked``: :class:`~.merges.Merges` (performers found to be one person);
- ``runs``, ``run_writes``: :class:`~.runs.Runs` (the journal's rows; ``tasks/journal.py`` gives them meaning);
  ``runs.library`` is the Stash library each run wrote to, ``sqlite_sequence`` never goes below the folder's
  run-id high-water mark (``store.py``), so run ids never repeat.

Items (sightings, learned, refusals, the journal's targets) are stored as ``str(ItemRef)``: ``image:12``.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...sqlite_file import NewerFileError, Schema

APPLICATION_ID = int.from_bytes(b"scST")  # PRAGMA application_id of a stash-compreface state file

# Ordered migrations: entry N-1 brings a file from user_version N-1 to N. Never edit a released entry;
# append a new one. Version 1 is the layout that shipped without a version (user_version 0), hence
# IF NOT EXISTS: such files already hold these tables.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE IF NOT EXISTS candidates (
            subject TEXT PRIMARY KEY,
            created_at REAL NOT NULL,
            performer_id TEXT
        )""",
        """CREATE TABLE IF NOT EXISTS sightings (
            subject TEXT NOT NULL,
            image_id TEXT NOT NULL,
            PRIMARY KEY (subject, image_id)
        )""",
        """CREATE TABLE IF NOT EXISTS learned (
            subject TEXT NOT NULL,
            image_id TEXT NOT NULL,
            PRIMARY KEY (subject, image_id)
        )""",
    ),
    (
        # A promotion whose image links may not have been written yet (the run can be killed in between).
        """CREATE TABLE pending_promotions (
            subject TEXT PRIMARY KEY,
            performer_id TEXT NOT NULL,
            created_at REAL NOT NULL
        )""",
    ),
    (
        # Examples copied between CompreFace and the built-in engine, so a rerun copies each once.
        """CREATE TABLE transfers (
            direction TEXT NOT NULL,
            source_id TEXT NOT NULL,
            target_id TEXT NOT NULL,
            PRIMARY KEY (direction, source_id)
        )""",
    ),
    (
        # The journal: every write a run performed, so undoRun can revert exactly that run's additions;
        # and the user's refusals ("not this person"), so no later run links that face to that item again.
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            mode TEXT NOT NULL,
            started_at REAL NOT NULL,
            undone_at REAL
        )""",
        """CREATE TABLE run_writes (
            run_id INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            kind TEXT NOT NULL,
            target TEXT NOT NULL,
            detail TEXT NOT NULL,
            PRIMARY KEY (run_id, seq)
        )""",
        """CREATE TABLE refusals (
            item TEXT NOT NULL,
            performer_id TEXT NOT NULL,
            subject TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (item, performer_id, subject)
        )""",
    ),
    (
        # 5: subjects that must never become a performer again: rejected by the user, or their performer was
        # deleted in Stash.
        """CREATE TABLE retired (
            subject TEXT PRIMARY KEY,
            reason TEXT NOT NULL,
            retired_at REAL NOT NULL
        )""",
    ),
    (
        # 6: the typed journal (tasks/journal.py). Runs whose entries were trimmed (journalRuns) stay known, so
        # undoing one says why it cannot. The entries move into a table clustered by (run_id, seq), without the
        # rowid and the separate key index, in their compact form: a link's detail no longer repeats the kind
        # and item of its target; a link that added no performer becomes "tags"; an example is filed under the
        # item it came from (how rejectMatch and confirmMatch look it up), its subject moving into the detail.
        "ALTER TABLE runs ADD COLUMN trimmed_at REAL",
        """CREATE TABLE journal (
            run_id INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            kind TEXT NOT NULL,
            target TEXT NOT NULL,
            detail TEXT NOT NULL,
            PRIMARY KEY (run_id, seq)
        ) WITHOUT ROWID""",
        """INSERT INTO journal(run_id, seq, kind, target, detail)
            SELECT run_id, seq,
                CASE WHEN kind = 'link' AND COALESCE(json_array_length(detail, '$.performers'), 0) = 0 THEN 'tags'
                     ELSE kind END,
                CASE WHEN kind = 'example' THEN COALESCE(json_extract(detail, '$.item'), '') ELSE target END,
                json(CASE WHEN kind = 'link' THEN json_remove(detail, '$.kind', '$.item')
                          WHEN kind = 'example' THEN json_set(json_remove(detail, '$.item'), '$.subject', target)
                          ELSE detail END)
            FROM run_writes""",
        "UPDATE journal SET detail = json_remove(detail, '$.performers') WHERE kind = 'tags'",
        "DROP TABLE run_writes",
        "ALTER TABLE journal RENAME TO run_writes",
        "CREATE INDEX run_writes_examples ON run_writes(target) WHERE kind = 'example'",
    ),
    (
        # 7: one encoding of an item everywhere (stash.models.ItemRef: "image:12", "scene:7"). Sightings, learned
        # claims, refusals and the journal's examples named an image by its bare id and a scene as "scene:<id>";
        # sightings.image_id and learned.image_id, which held scenes too, become "item".
        "ALTER TABLE sightings RENAME COLUMN image_id TO item",
        "UPDATE sightings SET item = 'image:' || item WHERE instr(item, ':') = 0",
        "ALTER TABLE learned RENAME COLUMN image_id TO item",
        "UPDATE learned SET item = 'image:' || item WHERE instr(item, ':') = 0",
        "UPDATE refusals SET item = 'image:' || item WHERE instr(item, ':') = 0",
        "UPDATE run_writes SET target = 'image:' || target "
        "WHERE kind = 'example' AND target != '' AND instr(target, ':') = 0",
    ),
    (
        # 8: each run records the Stash library it wrote to (its database path), so undoRun refuses a run of
        # another library; and the file is marked as ours (an older file was recognised by its tables).
        "ALTER TABLE runs ADD COLUMN library TEXT",
        f"PRAGMA application_id = {APPLICATION_ID}",
    ),
    (
        # 9: a batch image run decides who its unknown faces are once every image is seen (tasks/unknown_faces.py):
        # the faces nobody matched (their vector, and whether one may found a person), and the candidates seen
        # often enough to become performers, kept until decided so a run killed before then is completed; and
        # performers found to be one person are merged (tasks/performers.py): a merge in flight, and what each
        # performer held when last compared. (IF NOT EXISTS: a file whose version was set back keeps them.)
        """CREATE TABLE IF NOT EXISTS unknown_faces (
            item TEXT NOT NULL,
            face INTEGER NOT NULL,
            founding INTEGER NOT NULL,
            embedding BLOB NOT NULL,
            PRIMARY KEY (item, face)
        ) WITHOUT ROWID""",
        "CREATE TABLE IF NOT EXISTS due_candidates (subject TEXT PRIMARY KEY) WITHOUT ROWID",
        """CREATE TABLE IF NOT EXISTS pending_merges (
            removed_id TEXT PRIMARY KEY,
            into_id TEXT NOT NULL,
            detail TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS merge_checked (
            performer_id TEXT PRIMARY KEY,
            examples INTEGER NOT NULL
        )""",
    ),
    (
        # 10: an unknown face's quality score, so the founding faces are decided best first, whatever ids the
        # library gave their images (faces kept by an older run score 0: decided after, in image order).
        "ALTER TABLE unknown_faces ADD COLUMN score REAL NOT NULL DEFAULT 0",
    ),
)

# What a current file must contain; anything less is not our file.
_EXPECTED_COLUMNS: Mapping[str, frozenset[str]] = {
    "candidates": frozenset({"subject", "created_at", "performer_id"}),
    "sightings": frozenset({"subject", "item"}),
    "learned": frozenset({"subject", "item"}),
    "pending_promotions": frozenset({"subject", "performer_id", "created_at"}),
    "transfers": frozenset({"direction", "source_id", "target_id"}),
    "runs": frozenset({"id", "mode", "started_at", "undone_at", "trimmed_at", "library"}),
    "run_writes": frozenset({"run_id", "seq", "kind", "target", "detail"}),
    "refusals": frozenset({"item", "performer_id", "subject", "created_at"}),
    "retired": frozenset({"subject", "reason", "retired_at"}),
    "unknown_faces": frozenset({"item", "face", "founding", "embedding", "score"}),
    "due_candidates": frozenset({"subject"}),
    "pending_merges": frozenset({"removed_id", "into_id", "detail"}),
    "merge_checked": frozenset({"performer_id", "examples"}),
}

LOST = ("your refusals (rejectMatch) and retired subjects (they may be linked or promoted again), the undo "
        "journal (earlier runs can no longer be undone), candidate sightings (unnamed faces start counting "
        "towards minFacesForNewPerformer again), learned-example claims (an image may be uploaded as an example "
        "once more), unfinished promotions and the unknown faces of an unfinished run (they stay Unidentified)")

# What a restore compares, kind by kind, between a damaged file and its backup (the names the warning uses).
COUNTS: Mapping[str, str] = {
    "refusals": "SELECT COUNT(*) FROM (SELECT DISTINCT item, performer_id FROM refusals)",
    "retired subjects": "SELECT COUNT(*) FROM retired",
    "journal runs": "SELECT COUNT(*) FROM runs",
    "journal entries": "SELECT COUNT(*) FROM run_writes",
    "promotions": "SELECT COUNT(*) FROM candidates WHERE performer_id IS NOT NULL",
    "sightings": "SELECT COUNT(*) FROM sightings",
    "learned claims": "SELECT COUNT(*) FROM learned",
    "copied examples": "SELECT COUNT(*) FROM transfers",
}

SCHEMA = Schema(what="state file", migrations=_MIGRATIONS, expected_columns=_EXPECTED_COLUMNS, lost=LOST,
                application_id=APPLICATION_ID, counts=COUNTS)
NewerStateError = NewerFileError  # the name callers and tests know
SCHEMA_VERSION = SCHEMA.version
