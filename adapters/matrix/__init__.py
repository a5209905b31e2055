"""The Matrix adapter (matrix-nio). See ``adapters.matrix.adapter.MatrixAdapter``."""

from adapters.matrix.adapter import MatrixAdapter

__all__ = ["MatrixAdapter"]
