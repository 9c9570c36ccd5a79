"""The REST API on ADF's data-plane paths, so scripts written for ADF port over (see openapi.py)."""
