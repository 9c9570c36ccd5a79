"""The tables grid's rows, built in Python: 2,000 rows through the template engine cost ~0.6 s, this ~20 ms."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from django import template
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from syncjobs.engine.inventory import TableInfo

register = template.Library()


@register.simple_tag
def grid_rows(
    tables: Iterable[TableInfo], ticked: Collection[str] = (), row_actions: bool = False, is_admin: bool = False
) -> SafeString:
    """One ``<tr>`` per table (``templates/tables/_source_grid.html`` says what each holds)."""
    confirm = reverse("syncjobs:tables_change_tracking_confirm") if row_actions and is_admin else ""
    return mark_safe("".join(_row(t, ticked, row_actions, confirm) for t in tables))  # noqa: S308 - every value escaped


def _row(t: TableInfo, ticked: Collection[str], row_actions: bool, confirm: str) -> str:
    full = escape(str(t.name))
    box = ""
    if t.has_key:
        checked = " checked" if str(t.name) in ticked else ""
        box = f'<input type="checkbox" name="tables" value="{full}" aria-label="{full}"{checked}>'
    key = (
        escape(", ".join(t.primary_key))
        if t.has_key
        else f'<span class="badge bad">no key</span> <small class="why">{escape(t.refusal)}</small>'
    )
    kept = f" <small>kept {escape(t.retention)}</small>" if t.retention else ""
    tracking = f'<span class="badge ok">on</span>{kept}' if t.change_tracking else '<span class="badge off">off</span>'
    rows = "—" if t.row_estimate is None else f"{t.row_estimate}"
    size = "—" if t.size_bytes is None else escape(filesizeformat(t.size_bytes))
    cells = [
        box,
        escape(t.name.schema or ""),
        f"<code>{escape(t.name.name)}</code>",
        key,
        tracking,
    ]
    html = "".join(f"<td>{c}</td>" for c in cells) + f'<td class="num">{rows}</td><td class="num">{size}</td>'
    if row_actions:
        html += f"<td>{_action(t, full, confirm)}</td>"
    data = (
        f'data-schema="{escape(t.name.schema or "")}" data-name="{escape(str(t.name).lower())}" '
        f'data-key="{int(t.has_key)}" data-tracked="{int(t.change_tracking)}"'
    )
    return f"<tr {data}>{html}</tr>\n"


def _action(t: TableInfo, full: str, confirm: str) -> str:
    if not confirm or not t.has_key:
        return ""
    action, label = ("disable", "Disable…") if t.change_tracking else ("enable", "Enable…")
    return (
        f'<button type="submit" class="secondary" name="only" value="{action}:{full}" '
        f'formaction="{confirm}">{label}</button>'
    )
