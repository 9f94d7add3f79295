"""The hash cache's rows on disk: plain Arrow types, and the append-only journal a scan writes as it goes.

A journal is an Arrow IPC stream of row batches, locked while its scan writes
it and flushed after every batch, so that it reads up to its last complete
batch even after the writer was killed (:mod:`dedupkit.cache` merges it into
the Parquet file).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc

try:  # advisory locks keep a running scan's journal from being merged away
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locks, same behaviour otherwise
    fcntl = None

__all__ = ["INT_COLUMNS", "PANDAS_TYPES", "Journal", "read_journal", "to_arrow", "try_lock_and_remove"]

#: Columns stored as 64-bit integers (nullable in pandas).
INT_COLUMNS = frozenset({"size", "mtime_ns", "width", "height", "bytes"})
PANDAS_TYPES = {pa.int64(): pd.Int64Dtype()}  # keep integers with gaps as integers


class Journal:
    """An Arrow IPC stream of row batches, locked while open."""

    def __init__(self, path: str):
        self.path = path
        self._file = open(path, "wb")  # noqa: SIM115 - closed in close()
        if fcntl is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._writer: ipc.RecordBatchStreamWriter | None = None
        self._schema: pa.Schema | None = None

    def fits(self, records: list[dict]) -> bool:
        """Whether the records can go into this journal (same columns, compatible types)."""
        if self._schema is None:
            return True
        try:
            to_arrow(pd.DataFrame.from_records(records), schema=self._schema)
        except (pa.ArrowException, ValueError, TypeError):
            return False
        return set(self._schema.names) == set().union(*records)

    def append(self, records: list[dict]) -> pa.Table:
        """Write the records as one batch, flushed to the file at once; return them as a table."""
        frame = pd.DataFrame.from_records(records)
        batch = to_arrow(frame, schema=self._schema)
        if self._writer is None:
            self._schema = batch.schema
            self._writer = ipc.new_stream(self._file, self._schema)
        self._writer.write_table(batch)
        self._file.flush()
        return batch

    def close(self) -> None:
        try:
            if self._writer is not None:
                self._writer.close()
        finally:
            self._file.close()  # releases the lock


def read_journal(path: str) -> pd.DataFrame | None:
    """The complete batches of a journal; a torn last batch (killed writer) is ignored."""
    batches = []
    try:
        with open(path, "rb") as handle:
            reader = ipc.open_stream(handle)
            while True:
                try:
                    batches.append(reader.read_next_batch())
                except StopIteration:
                    break
                except (OSError, pa.ArrowException):
                    break
            schema = reader.schema
    except (OSError, pa.ArrowException):
        return None  # empty or torn before the first batch
    if not batches:
        return None
    return pa.Table.from_batches(batches, schema=schema).to_pandas(types_mapper=PANDAS_TYPES.get)


def try_lock_and_remove(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.remove(path)
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


def _arrow_type(name: str, values: pd.Series) -> pa.DataType:
    if name in INT_COLUMNS:
        return pa.int64()
    present = values.dropna()
    if not len(present):
        return pa.string()
    first = present.iloc[0]
    if isinstance(first, (bool, np.bool_)):
        return pa.bool_()
    if isinstance(first, (int, np.integer)):
        return pa.int64()
    if isinstance(first, (float, np.floating)):
        return pa.float64()
    return pa.string()


def to_arrow(frame: pd.DataFrame, schema: pa.Schema | None = None) -> pa.Table:
    """A frame as an Arrow table with plain types (nullable ints, strings); ``schema`` if given."""
    if schema is not None and set(schema.names) == set(frame.columns):
        fields = list(schema)
    else:
        fields = [pa.field(c, _arrow_type(c, frame[c])) for c in frame.columns]
    arrays = []
    for field in fields:
        arrays.append(pa.array(frame[field.name], type=field.type, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
