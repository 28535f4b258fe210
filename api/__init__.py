"""The FastAPI service over the optimizer library (not built yet: the command line is the interface)."""
