"""Client timeouts for tests that make a client time out, chosen so that no outcome depends on the machine's load.

A timeout test makes a double hang (``double.hang(prefix)``): the request is accepted and never answered, so
the client's timeout fires however slow the machine is, and the double sees the client cut the request off
(``double.wait_for_cut_off("GET /path")``). A late answer that beats the timeout cannot happen. No test
asserts how long anything took.

What remains is that the requests the double DOES answer must not time out. A loopback answer takes
milliseconds; ``ANSWERED_S`` is the timeout of a client that sends both kinds in one test, far beyond that
even on a loaded machine. Each hung request costs that long, so a client that only ever sends hung requests
uses ``HUNG_ONLY_S``: nothing it sends can be answered, so any timeout is as good as another.
"""

from __future__ import annotations

ANSWERED_S = 1.0
HUNG_ONLY_S = 0.1
