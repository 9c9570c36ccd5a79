"""ADF JSON at the portal's edge: validation with findings that point at paths, legacy-form
normalization and secret masking.

Plain functions over JSON, below the models that use them: nothing here imports ``syncjobs.models`` or
``syncjobs.services`` (a test holds that line). Saving, importing and exporting definitions is
``services/definitions.py``.
"""

from syncjobs.adf.findings import DefinitionError, Finding, KnownObjects, is_expression
from syncjobs.adf.legacy import normalize
from syncjobs.adf.validation import KINDS, validate_definition, validate_name

__all__ = [
    "KINDS",
    "DefinitionError",
    "Finding",
    "KnownObjects",
    "is_expression",
    "normalize",
    "validate_definition",
    "validate_name",
]
