"""Typed column batches: what the engine hands a destination, and their Arrow form.

A :class:`Batch` holds the rows of one write as columns: a name, a headwater data type (or
``None`` for a helper column such as a flag or a sequence number, whose Arrow type is inferred) and
the values, canonical for that type (see :mod:`headwater.values`). A column's values are a Python
list or an Arrow array already of the column's Arrow type. :meth:`Batch.to_arrow` gives the whole
batch as one ``pyarrow.Table``; a destination may also read the columns directly, which lets tiny
batches avoid importing pyarrow at all.

    >>> from headwater.types import LONG, STRING
    >>> b = Batch(["id", "name"], [LONG, STRING], [[1, 2], ["a", "b"]])
    >>> len(b), b.index("name")
    (2, 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from headwater.types import DataType

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Batch", "arrow_type", "to_arrow"]

_ARROW_CACHE: dict[DataType, Any] = {}


def arrow_type(dtype: DataType) -> pa.DataType:
    """The Arrow type of a headwater data type (DECIMAL keeps its precision and scale)."""
    cached = _ARROW_CACHE.get(dtype)
    if cached is not None:
        return cached
    import pyarrow as pa

    simple = {
        "BOOLEAN": pa.bool_(), "SHORT": pa.int16(), "INT": pa.int32(), "LONG": pa.int64(),
        "FLOAT": pa.float32(), "DOUBLE": pa.float64(), "NAIVE_DATE": pa.date32(),
        "NAIVE_DATETIME": pa.timestamp("us"), "UTC_DATETIME": pa.timestamp("us", tz="UTC"),
        "BINARY": pa.binary(), "XML": pa.string(), "STRING": pa.string(), "JSON": pa.string(),
    }
    result = (pa.decimal128(dtype.precision or 38, dtype.scale or 0) if dtype.name == "DECIMAL"
              else simple[dtype.name])
    _ARROW_CACHE[dtype] = result
    return result


def to_arrow(values: Any, dtype: DataType | None) -> pa.Array:
    """One column of canonical values as an Arrow array of the column's type (``None``: let Arrow infer).

    ``values`` is a list, or an Arrow array already of that type.
    """
    import pyarrow as pa

    if isinstance(values, pa.Array):
        return values
    if dtype is None:
        return pa.array(values)
    return pa.array(values, type=arrow_type(dtype), from_pandas=False)


class Batch:
    """Columns of equal length: ``names[i]`` has type ``types[i]`` and values ``columns[i]``."""

    __slots__ = ("_arrow", "columns", "names", "types")

    def __init__(self, names: Sequence[str], types: Sequence[DataType | None], columns: Sequence[Any]) -> None:
        if not len(names) == len(types) == len(columns):
            raise ValueError(f"a batch needs as many names, types and columns; got {len(names)}, {len(types)}, "
                             f"{len(columns)}")
        self.names = list(names)
        self.types = list(types)
        self.columns = list(columns)
        self._arrow: Any = None

    def __len__(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def __repr__(self) -> str:
        described = ", ".join(f"{n} {t}" for n, t in zip(self.names, self.types))
        return f"Batch({len(self)} rows: {described})"

    def index(self, name: str) -> int:
        """The position of the column called ``name`` (exact spelling)."""
        return self.names.index(name)

    def column(self, name: str) -> list[Any]:
        """The values of one column as a Python list."""
        values = self.columns[self.index(name)]
        return values if isinstance(values, list) else values.to_pylist()

    def rows(self) -> list[tuple[Any, ...]]:
        """The batch as row tuples, in column order (for destinations that write row by row in memory)."""
        lists = [v if isinstance(v, list) else v.to_pylist() for v in self.columns]
        return list(zip(*lists))

    def to_arrow(self) -> pa.Table:
        """The batch as one Arrow table (built once, then cached)."""
        if self._arrow is None:
            import pyarrow as pa

            fields = [to_arrow(values, dtype) for values, dtype in zip(self.columns, self.types)]
            self._arrow = pa.Table.from_arrays(fields, names=self.names)
        return self._arrow

