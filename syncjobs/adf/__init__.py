"""ADF JSON at the portal's edge: validation with findings that point at paths, legacy-form
normalization, secret masking, and (in ``repository``) import and export.

``repository`` uses the models and is imported by name (``from syncjobs.adf.repository import
import_folder``), so the models can use the rest of this package without an import cycle.
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
