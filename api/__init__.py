"""The FastAPI service over the optimizer library; `api.app.create_app` builds it and `territory serve` runs it."""
