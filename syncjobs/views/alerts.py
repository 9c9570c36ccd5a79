"""Alerts: incidents (Viewer; acknowledge and mute: Operator), channels and rules (Admin edits)."""

from __future__ import annotations

from typing import TypeVar

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache

from syncjobs.access import Actor, Role, requires
from syncjobs.forms.alerts import ChannelForm, IncidentFilterForm, MuteForm, RuleForm
from syncjobs.models import AlertChannel, AlertRule, Delivery, Incident
from syncjobs.services.alerts import deliver, incidents, routing
from syncjobs.services.alerts.channels import shown_target
from syncjobs.services.alerts.evaluate import evaluate

PAGE = 50
MAX_ID = 2**63 - 1
M = TypeVar("M", bound=Model)


def _get(model: type[M], pk: int) -> M:
    """The row, or a 404 (also for an id past the database's integers: never a 500)."""
    if pk > MAX_ID:
        raise Http404("no such object")
    return get_object_or_404(model, pk=pk)


@requires(GET=Role.VIEWER)
def alerts(request: HttpRequest) -> HttpResponse:
    """Open and recent incidents, filtered by state, severity, kind and object; 50 a page."""
    form = IncidentFilterForm(request.GET or None)
    rows = Incident.objects.matching(**form.filters()) if request.GET else Incident.objects.matching()
    page = Paginator(rows.select_related("acknowledged_by"), PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode(), "mute_form": MuteForm()}
    return render(request, "alerts/incidents.html", context)


@requires(POST=Role.OPERATOR)
def evaluate_now(request: HttpRequest) -> HttpResponse:
    """Check every condition now (the worker does it every minute) and send what is due."""
    result = evaluate(wait_seconds=0)
    messages.success(request, f"Checked: {result.findings} condition(s) hold, {result.resolved} resolved.")
    return redirect("syncjobs:alerts")


@requires(GET=Role.VIEWER, POST=Role.OPERATOR)
def incident(request: HttpRequest, incident_id: int) -> HttpResponse:
    """One incident with its events and their deliveries; POST acknowledges or mutes it."""
    found = _get(Incident, incident_id)
    if request.method == "POST":
        return _act(request, found)
    events = found.events.prefetch_related("deliveries__channel")
    return render(request, "alerts/incident.html", {"incident": found, "events": events, "mute_form": MuteForm()})


def _act(request: HttpRequest, found: Incident) -> HttpResponse:
    actor = Actor.of(request.user)
    if request.POST.get("action") == "acknowledge":
        incidents.acknowledge(found, actor)
        messages.success(request, f"Incident #{found.pk} acknowledged: no repeats; its resolution is still sent.")
    else:
        form = MuteForm(request.POST)
        if not form.is_valid():
            messages.error(request, f"Not muted: {form.errors.as_text()}")
        else:
            until = incidents.mute(found, form.cleaned_data["minutes"], actor)
            shown = f"muted until {until:%Y-%m-%d %H:%M} UTC" if until else "unmuted"
            messages.success(request, f"Incident #{found.pk} {shown}.")
    if request.POST.get("next") == "list":
        return redirect("syncjobs:alerts")
    return redirect("syncjobs:alert_incident", found.pk)


@requires(GET=Role.VIEWER, POST=Role.ADMIN)
@never_cache
def channels(request: HttpRequest) -> HttpResponse:
    """Channels (targets masked) and their latest deliveries; POST creates one (Admin)."""
    form = ChannelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        channel = routing.save_channel(None, form.change(), Actor.of(request.user))
        messages.success(request, f"Channel {channel.name} created.")
        return redirect("syncjobs:alert_channels")
    listed = [(c, shown_target(c)) for c in AlertChannel.objects.all()]
    recent = Delivery.objects.select_related("channel", "event", "incident")[:20]
    return render(request, "alerts/channels.html", {"channels": listed, "form": form, "recent": recent})


@requires(GET=Role.ADMIN, POST=Role.ADMIN)
@never_cache
def channel(request: HttpRequest, channel_id: int) -> HttpResponse:
    """Change or delete a channel (secrets left blank are kept)."""
    found = _get(AlertChannel, channel_id)
    actor = Actor.of(request.user)
    if request.method == "POST" and request.POST.get("action") == "delete":
        routing.delete_channel(found, actor)
        messages.success(request, f"Channel {found.name} deleted.")
        return redirect("syncjobs:alert_channels")
    form = ChannelForm(request.POST or None, channel=found)
    if request.method == "POST" and form.is_valid():
        routing.save_channel(found, form.change(), actor)
        messages.success(request, f"Channel {found.name} saved.")
        return redirect("syncjobs:alert_channels")
    context = {"channel": found, "target": shown_target(found), "form": form}
    return render(request, "alerts/channel.html", context)


@requires(POST=Role.ADMIN)
def channel_test(request: HttpRequest, channel_id: int) -> HttpResponse:
    """Send a test message through a channel now, and say what the receiver answered."""
    found = _get(AlertChannel, channel_id)
    sent, answer = deliver.send_test(found, Actor.of(request.user))
    (messages.success if sent else messages.error)(
        request, f"Test to {found.name}: {'sent' if sent else 'failed'}: {answer}"
    )
    return redirect("syncjobs:alert_channels")


@requires(GET=Role.VIEWER, POST=Role.ADMIN)
def rules(request: HttpRequest) -> HttpResponse:
    """Rules; POST creates one (Admin)."""
    form = RuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        rule = routing.save_rule(form.save(commit=False), list(form.cleaned_data["channels"]), Actor.of(request.user))
        messages.success(request, f"Rule {rule.name} created.")
        return redirect("syncjobs:alert_rules")
    listed = AlertRule.objects.prefetch_related("channels")
    return render(request, "alerts/rules.html", {"rules": listed, "form": form})


@requires(GET=Role.ADMIN, POST=Role.ADMIN)
def rule(request: HttpRequest, rule_id: int) -> HttpResponse:
    """Change or delete a rule."""
    found = _get(AlertRule, rule_id)
    actor = Actor.of(request.user)
    if request.method == "POST" and request.POST.get("action") == "delete":
        routing.delete_rule(found, actor)
        messages.success(request, f"Rule {found.name} deleted.")
        return redirect("syncjobs:alert_rules")
    form = RuleForm(request.POST or None, instance=found)
    if request.method == "POST" and form.is_valid():
        routing.save_rule(form.save(commit=False), list(form.cleaned_data["channels"]), actor)
        messages.success(request, f"Rule {found.name} saved.")
        return redirect("syncjobs:alert_rules")
    return render(request, "alerts/rule.html", {"rule": found, "form": form})
