"""Forms of the Alerts pages: incident filters and mute, channels (secrets write-only) and rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import EmailValidator, URLValidator

from syncjobs.models import AlertChannel, AlertRule
from syncjobs.models.alerts import Condition, Severity
from syncjobs.services.alerts.channels import apprise_urls
from syncjobs.services.alerts.routing import ChannelChange

STATES = [("", "open and recent"), ("open", "open"), ("acknowledged", "acknowledged"), ("muted", "muted")]
STATES += [("resolved", "resolved")]
MUTE_CHOICES = [(60, "1 hour"), (240, "4 hours"), (1440, "1 day"), (10080, "1 week"), (0, "unmute")]
_WRITE_ONLY = "Write-only: never shown again. Leave blank to keep the stored one."


class IncidentFilterForm(forms.Form):
    """The Alerts page's filters; all optional."""

    state = forms.ChoiceField(label="State", required=False, choices=STATES)
    severity = forms.TypedChoiceField(
        label="At least", required=False, coerce=int, empty_value=None, choices=[("", "any"), *Severity.choices]
    )
    kind = forms.ChoiceField(label="Kind", required=False, choices=[("", "any"), *Condition.choices])
    object = forms.CharField(label="Object", required=False, max_length=400)

    def filters(self) -> dict[str, Any]:
        """The valid filters, for ``Incident.objects.matching``."""
        if not self.is_valid():
            return {"state": "open"}
        data = self.cleaned_data
        return {"state": data["state"], "severity": data["severity"], "kind": data["kind"], "obj": data["object"]}


class MuteForm(forms.Form):
    """How long to mute an incident."""

    minutes = forms.TypedChoiceField(label="Mute for", coerce=int, choices=MUTE_CHOICES, initial=60)


class WriteOnlyTextarea(forms.Textarea):
    """A text area that never renders a value: not the stored secret, nor what was typed before an error."""

    def format_value(self, value: Any) -> None:
        return None


class ChannelForm(forms.Form):
    """A channel; its URL, signing secret and apprise URLs are write-only."""

    name = forms.CharField(label="Name", max_length=100)
    kind = forms.ChoiceField(label="Kind", choices=AlertChannel.Kind.choices)
    enabled = forms.BooleanField(label="Enabled", required=False, initial=True)
    recipients = forms.CharField(
        label="E-mail recipients", required=False, max_length=2000, help_text="E-mail: addresses, comma separated."
    )
    url = forms.CharField(
        label="Webhook URL",
        required=False,
        max_length=2000,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=f"Webhook: http(s) URL. {_WRITE_ONLY}",
    )
    signing_secret = forms.CharField(
        label="Signing secret",
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=f"Webhook: signs each request (X-Ctportal-Signature, HMAC-SHA256). {_WRITE_ONLY}",
    )
    apprise_urls = forms.CharField(
        label="Apprise URLs",
        required=False,
        max_length=4000,
        widget=WriteOnlyTextarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text=f"Apprise: one URL a line (slack://..., msteams://...). {_WRITE_ONLY}",
    )

    def __init__(self, *args: Any, channel: AlertChannel | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.channel = channel
        if channel is not None:
            self.initial.setdefault("name", channel.name)
            self.initial.setdefault("kind", channel.kind)
            self.initial.setdefault("enabled", channel.enabled)
            self.initial.setdefault("recipients", ", ".join(channel.config.get("recipients") or []))

    def clean_recipients(self) -> list[str]:
        addresses = [a.strip() for a in self.cleaned_data["recipients"].split(",") if a.strip()]
        for address in addresses:
            EmailValidator(message=f"{address!r} is not an e-mail address")(address)
        return addresses

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        if url:
            URLValidator(schemes=["http", "https"], message="enter an http:// or https:// URL")(url)
        return url

    def clean_apprise_urls(self) -> str:
        urls = apprise_urls({"urls": self.cleaned_data["apprise_urls"]})
        if urls:
            import apprise

            for number, url in enumerate(urls, 1):
                if not apprise.Apprise().add(url):
                    raise forms.ValidationError(f"line {number}: apprise does not understand this URL")
        return "\n".join(urls)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        stored = self.channel.secrets() if self.channel is not None else {}
        kind = data.get("kind")
        if kind == AlertChannel.Kind.EMAIL and not data.get("recipients") and "recipients" not in self.errors:
            self.add_error("recipients", "an e-mail channel needs at least one recipient")
        if (
            kind == AlertChannel.Kind.WEBHOOK
            and not (data.get("url") or stored.get("url"))
            and "url" not in self.errors
        ):
            self.add_error("url", "a webhook channel needs a URL")
        missing = not (data.get("apprise_urls") or stored.get("urls"))
        if kind == AlertChannel.Kind.APPRISE and missing and "apprise_urls" not in self.errors:
            self.add_error("apprise_urls", "an apprise channel needs at least one URL")
        others = AlertChannel.objects.filter(name__iexact=data.get("name", ""))
        if self.channel is not None:
            others = others.exclude(pk=self.channel.pk)
        if others.exists():
            self.add_error("name", "a channel with this name exists")
        return data

    def change(self) -> ChannelChange:
        """The validated form as a change for ``routing.save_channel``."""
        data = self.cleaned_data
        return ChannelChange(
            name=data["name"],
            kind=data["kind"],
            enabled=data["enabled"],
            recipients=data["recipients"],
            url=data["url"],
            signing_secret=data["signing_secret"],
            apprise_urls=data["apprise_urls"],
        )


class RuleForm(forms.ModelForm):
    """A rule: which kinds, from which severity, on which objects, to which channels."""

    event_kinds = forms.MultipleChoiceField(
        label="Kinds",
        required=False,
        choices=Condition.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every kind. Each incident's resolution goes where its opening went.",
    )
    channels = forms.ModelMultipleChoiceField(
        label="Channels", queryset=AlertChannel.objects.all(), widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = AlertRule
        fields = ["name", "event_kinds", "min_severity", "scope", "scope_name", "channels", "enabled"]
        labels = {"min_severity": "At least", "scope": "On", "scope_name": "Pipeline or table name"}
        help_texts = {"scope_name": "For a pipeline: its name. For a table: linked service/schema.table, or the table."}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("scope") in (AlertRule.Scope.PIPELINE, AlertRule.Scope.TABLE) and not data.get("scope_name"):
            self.add_error("scope_name", "name the pipeline or table this rule is for")
        if data.get("scope") == AlertRule.Scope.ALL:
            data["scope_name"] = ""
        return data
