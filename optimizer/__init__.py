"""Territory-design optimizer: the library behind the `territory` command and the service."""

import time

# When this package was first imported: the start of a `territory` run, before the heavy imports
# (about 2 to 4 s), so that a run's --time-limit can cover them too.
IMPORTED_AT = time.monotonic()
