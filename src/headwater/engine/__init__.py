"""The sync engine: buffers operations per table and writes them at commit points.

* :mod:`headwater.engine.table` — per-table state and the per-row fast path;
* :mod:`headwater.engine.sync` — one sync: operations in, commit points out;
* :mod:`headwater.engine.flush` — buffered operations to typed Arrow batches and set-based writes;
* :mod:`headwater.engine.state` — atomic state files.
"""
