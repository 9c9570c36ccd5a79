"""Django admin's site, open to Admins only (the URL guard in ``ctportal/urls.py`` says the same)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest


class PortalAdminSite(admin.AdminSite):
    """The admin site, with the portal's Admin role in place of Django's staff flag."""

    site_header = "ctportal admin"

    def has_permission(self, request: HttpRequest) -> bool:
        """Only an active Admin."""
        from syncjobs.access import Role, role_of  # loads auth models: not before the app registry is ready

        return role_of(request.user) == Role.ADMIN


class PortalAdminConfig(AdminConfig):
    """``django.contrib.admin`` with :class:`PortalAdminSite` as its default site."""

    default_site = "syncjobs.admin_site.PortalAdminSite"
