"""The sync engine: buffers operations per table and writes them at commit points.

* :mod:`headwater.engine.table` — per-table state and the per-row fast path;
* :mod:`headwater.engine.sync` — one sync: operations in, commit points out;
* :mod:`headwater.engine.flush` — buffered operations to typed batches and set-based writes, in call order;
* :mod:`headwater.engine.resolve` — typing one column of a batch (inference, widening in call order);
* :mod:`headwater.engine.columnar` — Arrow types, and big uniform upsert batches typed by Arrow at once;
(State stores are in :mod:`headwater.statestore`, destinations in :mod:`headwater.destinations`.)
"""
