"""``/api/linkedservices``, ``/api/datasets``, ``/api/pipelines`` and ``/api/triggers``: ADF JSON in and out."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse

from syncjobs.access import WRITE_ROLES, Actor, Role
from syncjobs.adf.findings import DefinitionError, has_control_characters
from syncjobs.api.auth import api_view
from syncjobs.api.responses import ApiError, bad_request, body, ok
from syncjobs.models import Definition
from syncjobs.services.definitions import MODELS, save_definition
from syncjobs.services.objects import ObjectInUseError, delete_object

FACTORY_ID = "/ctportal/factories/ctportal"
KIND_OF_PATH = {
    "linkedservices": "linkedService",
    "datasets": "dataset",
    "pipelines": "pipeline",
    "triggers": "trigger",
}


def resource(instance: Definition, collection: str) -> dict[str, Any]:
    """The object as ADF's REST API returns it: id, name, type, etag and properties (secrets masked)."""
    data = instance.to_adf()
    data["id"] = f"{FACTORY_ID}/{collection}/{instance.name}"
    data["etag"] = hashlib.sha256(instance.updated.isoformat().encode()).hexdigest()[:16]
    return data


def _find(collection: str, name: str) -> Definition:
    found = MODELS[KIND_OF_PATH[collection]].objects.filter(name__iexact=name).first()
    if found is None:
        raise ApiError(404, "NotFound", f"{KIND_OF_PATH[collection]} {name!r} does not exist")
    return found


def _write_role(kwargs: Mapping[str, Any]) -> Role:
    """Linked services are an Admin's to change; datasets, pipelines and triggers an Editor's."""
    return WRITE_ROLES[KIND_OF_PATH[kwargs["collection"]]]


@api_view(GET=Role.VIEWER)
def collection(request: HttpRequest, collection: str) -> HttpResponse:
    """Every object of a kind: ``{"value": [...]}``."""
    model = MODELS[KIND_OF_PATH[collection]]
    return ok({"value": [resource(i, collection) for i in model.objects.order_by("name")]})


@api_view(GET=Role.VIEWER, PUT=_write_role, DELETE=_write_role)
def item(request: HttpRequest, collection: str, name: str) -> HttpResponse:
    """Get, create or update (PUT, ADF JSON body), or delete one object."""
    if has_control_characters(name):  # no object can have such a name, and PostgreSQL refuses NUL outright
        raise bad_request("name", "a name must not contain control characters")
    if request.method == "GET":
        return ok(resource(_find(collection, name), collection))
    if request.method == "PUT":
        return _put(request, collection, name)
    return _delete(collection, name, Actor.of(request.user))


def _put(request: HttpRequest, collection: str, name: str) -> HttpResponse:
    data = body(request)
    if not isinstance(data.get("properties"), dict):
        raise ApiError(400, "BadRequest", "the body must hold the object's 'properties'")
    try:
        instance, warnings = save_definition(
            KIND_OF_PATH[collection], {"name": name, "properties": data["properties"]}, actor=Actor.of(request.user)
        )
    except DefinitionError as exc:
        details = [{"code": "ValidationError", "message": f.message, "target": f.path} for f in exc.findings]
        raise ApiError(400, "BadRequest", f"the {KIND_OF_PATH[collection]} is not valid: {exc}", details) from None
    answer = resource(instance, collection)
    if warnings:
        answer["warnings"] = [{"target": w.path, "message": w.message} for w in warnings]
    return ok(answer)


def _delete(collection: str, name: str, actor: Actor) -> HttpResponse:
    instance = MODELS[KIND_OF_PATH[collection]].objects.filter(name__iexact=name).first()
    if instance is None:
        return HttpResponse(status=204)  # ADF answers 204 for an object that is not there
    try:
        delete_object(instance, actor=actor)
    except ObjectInUseError as exc:
        raise ApiError(409, "Conflict", str(exc)) from None
    return ok({})
