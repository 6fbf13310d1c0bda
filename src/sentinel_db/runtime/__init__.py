"""Connecting and running: engines, ``Database`` and its unit of work, the embedded server,
the repository cache and the runtime figures (metrics, Prometheus).
"""
