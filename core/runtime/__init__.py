"""The runtime layer: the host, the bus and its cross-process transport, sources, alerting, wall state, the worker."""
