"""The temporal transfer graph: interned accounts, forward and reverse CSR in time order."""

from tracer.graph.csr import Graph

__all__ = ["Graph"]
