"""The expression language's one error."""

from __future__ import annotations

from syncjobs.engine.errors import TerminalError


class ExpressionError(TerminalError):
    """An expression that does not parse or cannot be evaluated, with where it went wrong.

    ``expression`` is the expression's text (without the leading ``@``), ``position`` a 0-based offset in it.
    """

    def __init__(self, expression: str, position: int, message: str) -> None:
        super().__init__("expression_error", f"position {position}: {message} in expression '{expression}'")
        self.expression = expression
        self.position = position
        self.problem = message
