"""Template tags of object pages: what uses an object, and the links to it and its actions."""

from __future__ import annotations

from typing import Any

from django import template

from syncjobs.models import Definition
from syncjobs.services import objects
from syncjobs.views.objects import actions_url, page_url

register = template.Library()


@register.simple_tag
def used_by(instance: Definition) -> list[objects.Usage]:
    """The objects that reference ``instance`` (``{% used_by object as usages %}``)."""
    return objects.used_by(instance)


@register.filter
def object_url(item: Any) -> str:
    """The page of an object or of a usage's object."""
    return page_url(getattr(item, "kind", None) or item.KIND, item.name)


@register.filter
def object_actions_url(instance: Definition) -> str:
    """The rename, clone and delete page of an object."""
    return actions_url(instance.KIND, instance.name)
