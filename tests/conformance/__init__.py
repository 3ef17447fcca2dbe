"""Conformance against PyTorch's own test databases (``module_db`` and ``op_db``)."""
