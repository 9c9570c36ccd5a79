"""The pipeline runner: ADF pipelines of activities, run in dependency order.

``run_pipeline(snapshot, info, host)`` (``runner.py``) runs a pipeline definition frozen at trigger
time. It knows nothing of Django: everything it needs from the portal (revealed linked services,
recording activity runs, watermarks, cancellation) comes through the :class:`host.RunHost` protocol,
which the portal implements over its models (``syncjobs/services/run_host.py``).
"""
