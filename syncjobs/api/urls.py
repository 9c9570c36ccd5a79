"""API URLs: the route table (``routes.py``) and the OpenAPI document that describes it."""

from __future__ import annotations

from django.urls import path

from syncjobs.api import openapi
from syncjobs.api.routes import ROUTES

urlpatterns = [path(route, view, name=name) for route, view, name, _ in (*ROUTES, openapi.ROUTE)]
