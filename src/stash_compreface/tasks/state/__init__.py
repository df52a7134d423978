"""Local, durable memory of the plugin's work on one library, in one SQLite file next to the plugin.

A stranger seen once must not become a performer, so sightings have to outlive a run (and a SIGKILL);
the user's refusals and retirements must hold for every later run; undo needs each run's journal. Stash
has nowhere to keep these (no performer exists yet, images have no custom fields), so they live here.
Every write commits at once. The layout carries ``PRAGMA user_version`` and is upgraded by ordered
migrations (``schema.py``).

``store.py`` finds and opens the file (:class:`StateStore`); each concern is one repository over the
store's shared connection (``shared.py``), an attribute of the store:

==============================  ========================================================================
``candidates.py``               ``Candidates`` (who was seen where; the review page's list), ``Promotions``
``decisions.py``                ``Refusals`` (rejectMatch), ``Retired`` (never a performer again)
``examples.py``                 ``Learned`` (one face per item per subject), ``Transfers`` (engine copies)
``runs.py``                     ``Runs``: the undo journal's rows (``tasks/journal.py`` gives them meaning)
==============================  ========================================================================

Items are :class:`~stash_compreface.stash.models.ItemRef`, stored as ``image:12``, ``scene:7``.
"""

from __future__ import annotations

from .candidates import OpenCandidate, Pending
from .runs import RunSummary
from .schema import _MIGRATIONS, SCHEMA, SCHEMA_VERSION, NewerStateError
from .store import STATE_FILE, StateLocation, StateStore, folder_is_writable, locate_state, open_state, user_state_dir

__all__ = ["SCHEMA", "SCHEMA_VERSION", "STATE_FILE", "_MIGRATIONS", "NewerStateError", "OpenCandidate", "Pending",
           "RunSummary", "StateLocation", "StateStore", "folder_is_writable", "locate_state", "open_state",
           "user_state_dir"]
