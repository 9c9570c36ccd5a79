"""The bounds on work and size a pipeline may ask for: ADF's own limits where it documents them.

ADF's "Data Factory limits" table gives ForEach items (100,000), ForEach parallelism (50), characters per
expression (8,192), the maximum activity timeout (7 days) and bytes per pipeline object (200 KB); its
Lookup activity documents a 4 MB output. The rest are the portal's own bounds, chosen so that no single
definition or expression can pin a worker or fill the run history.
"""

from __future__ import annotations

FOREACH_ITEMS = 100_000
"""ADF: ForEach items."""
FOREACH_BATCH = 50
"""ADF: ForEach parallelism (``batchCount``)."""
ACTIVITY_OUTPUT_BYTES = 4 * 1024 * 1024
"""ADF: an activity's output, as JSON."""
EXPRESSION_CHARS = 8_192
"""ADF: characters per expression."""
TIMEOUT_SECONDS = 7 * 86_400
"""ADF: the maximum timeout of an activity run."""
RETRY_INTERVAL_SECONDS = (30, 86_400)
"""ADF: ``retryIntervalInSeconds`` bounds."""
ACTIVITIES_PER_PIPELINE = 120
"""ADF: activities per pipeline, inner activities of containers included."""
PARAMETERS_PER_PIPELINE = 50
"""ADF: parameters per pipeline."""

RETRIES = 100
"""The portal's bound on ``policy.retry`` (ADF documents none)."""
WAIT_SECONDS = TIMEOUT_SECONDS
"""The portal's bound on a Wait activity: no longer than any activity may run."""
EXPRESSION_ARRAY_ITEMS = FOREACH_ITEMS
"""The portal's bound on an array an expression builds (``range``, ``split``, ``createArray``...)."""
EXPRESSION_TEXT_CHARS = ACTIVITY_OUTPUT_BYTES
"""The portal's bound on a string an expression builds (``join``, ``concat``, ``replace``...)."""
JSON_DEPTH = 64
"""The portal's bound on nesting in JSON it is sent (ADF definitions nest a dozen levels or so)."""
INTEGER_RANGE = (-(2**63), 2**63 - 1)
"""Integers are 64-bit, as in ADF (.NET's long): arithmetic past them is an overflow, not a bignum."""
