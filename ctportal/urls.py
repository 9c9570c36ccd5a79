"""URL configuration. Every route declares the role it needs (``syncjobs.access``): Django admin is for
Admins only; signing in and out and the password reset flow (when mail is configured) are public,
changing one's password needs a sign-in."""

from django.contrib import admin
from django.urls import include, path

from ctportal import accounts
from syncjobs.access import PUBLIC, Need, Role, declared

SIGNED_IN = Need({"*": Role.VIEWER})
ADMIN_ONLY = Need({"*": Role.ADMIN})

urlpatterns = [
    path("admin/", declared(admin.site.urls, ADMIN_ONLY)),
    path(
        "accounts/",
        include(
            declared(accounts.urlpatterns, PUBLIC, {"password_change": SIGNED_IN, "password_change_done": SIGNED_IN})
        ),
    ),
    path("api/", include("syncjobs.api.urls")),
    path("", include("syncjobs.urls")),
]
