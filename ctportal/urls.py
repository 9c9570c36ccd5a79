"""URL configuration."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("ctportal.accounts")),
    path("api/", include("syncjobs.api.urls")),
    path("", include("syncjobs.urls")),
]
