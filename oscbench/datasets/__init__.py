"""Streams, the HDF5 dataset format, the registry and downloads.

* :mod:`~oscbench.datasets.trace_patterning` -- the trace-patterning stream (generated on the fly).
* :mod:`~oscbench.datasets.format` -- the one HDF5 layout (:class:`DatasetWriter`, :class:`DatasetFile`).
* :mod:`~oscbench.datasets.stream` -- :class:`StepChunk` and the :class:`Stream` protocol.
* :mod:`~oscbench.datasets.paths` -- the data directory (``$OSCBENCH_DATA``).
* :mod:`~oscbench.datasets.registry` -- every dataset id; :mod:`~oscbench.datasets.local` -- local copies by
  id or path: :func:`load` (one entry point: id or path -> stream), :func:`open_dataset`, download, delete.
"""
from oscbench.datasets.format import DatasetFile, DatasetWriter
from oscbench.datasets.local import load, open_dataset
from oscbench.datasets.stream import StepChunk, Stream
from oscbench.datasets.trace_patterning import TracePatterningConfig, TracePatterningStream

__all__ = ["DatasetFile", "DatasetWriter", "load", "open_dataset", "StepChunk", "Stream",
           "TracePatterningConfig", "TracePatterningStream"]
