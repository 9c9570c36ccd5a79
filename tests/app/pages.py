"""Reading pages in tests: the text a person sees."""

from __future__ import annotations

import html
import re
from typing import Any


def text(response: Any) -> str:
    """The page's text, entities decoded and white space collapsed; fails unless it answered 200."""
    assert response.status_code == 200, response.content[:500]
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))
