"""The corpus store: scans of many binaries and builds into one SQLite file, queried and compared later.

``db`` holds the schema and the single writer; ``task`` is what a worker runs for one binary; ``scan``
is the coordinator and its executors (local process pool or Dask cluster); ``query`` turns filters
into SQL; ``history`` compares the builds of one binary with the ``diff`` logic.
"""
