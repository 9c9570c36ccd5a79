"""The copy engine: plain Python, no Django.

Sources read tables, queries and change windows; formats turn batches into bytes; sinks stage and
commit files; ``changetracking.copy_table`` is the one change-tracking copy for every source, writing
change windows (``windows.py``, ``manifests.py``) that ``verification.verify_table`` can replay.
"""
