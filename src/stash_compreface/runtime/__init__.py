"""How the tasks are started: as a Stash plugin (``plugin``), from the CLI, or from tests (``session``)."""
