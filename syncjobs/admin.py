"""Django admin, for Admins: a read-only look at definitions (secrets masked), runs, tokens and the audit log.

Changes go through the Author and Manage pages, the API and the commands, which validate them and note
them in the audit log; so nothing here adds, changes or deletes a definition, a token, a user or an
audit entry, and users and groups are managed on the Users page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.http import HttpRequest

from syncjobs.models import (
    ActivityRun,
    ApiToken,
    AuditEntry,
    Dataset,
    LinkedService,
    Pipeline,
    PipelineRun,
    SchemaChange,
    Trigger,
    Watermark,
    WatermarkWindow,
)

admin.site.unregister(User)
admin.site.unregister(Group)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows shown, never added or edited by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class UnchangeableAdmin(ReadOnlyAdmin):
    """Rows whose every change must pass the portal's validation and audit log: not deleted here either."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DefinitionAdmin(UnchangeableAdmin):
    """The ADF JSON (secrets masked)."""

    fields = ["definition", "created", "updated"]
    list_display = ["name", "updated"]
    search_fields = ["name"]


@admin.register(LinkedService)
class LinkedServiceAdmin(DefinitionAdmin):
    list_display = ["name", "type", "updated"]
    list_filter = ["type"]


@admin.register(Dataset)
class DatasetAdmin(DefinitionAdmin):
    list_display = ["name", "type", "linked_service", "updated"]
    list_filter = ["type"]


@admin.register(Pipeline)
class PipelineAdmin(DefinitionAdmin):
    pass


@admin.register(Trigger)
class TriggerAdmin(DefinitionAdmin):
    fields = ["definition", "runtime_state", "created", "updated"]
    list_display = ["name", "type", "runtime_state", "updated"]


class ActivityRunInline(admin.TabularInline):
    model = ActivityRun
    fields = readonly_fields = ("activity_name", "activity_type", "status", "run_start", "duration_ms", "rows_written")
    extra = 0
    can_delete = False


@admin.register(PipelineRun)
class PipelineRunAdmin(ReadOnlyAdmin):
    list_display = ["run_id", "pipeline_name", "status", "invoked_by_type", "run_start", "duration_ms"]
    list_filter = ["status", "invoked_by_type"]
    search_fields = ["run_id", "pipeline_name"]
    date_hierarchy = "triggered_at"
    inlines = [ActivityRunInline]


@admin.register(ActivityRun)
class ActivityRunAdmin(ReadOnlyAdmin):
    list_display = ["activity_name", "activity_type", "status", "pipeline_run", "run_start", "duration_ms"]
    list_filter = ["status", "activity_type"]


@admin.register(Watermark)
class WatermarkAdmin(ReadOnlyAdmin):
    list_display = [
        "source_schema",
        "source_table",
        "sink_key",
        "linked_service",
        "version",
        "updated_at",
        "claimed_by",
    ]


@admin.register(WatermarkWindow)
class WatermarkWindowAdmin(ReadOnlyAdmin):
    list_display = ["watermark", "mode", "previous_version", "new_version", "rows", "created_at"]
    list_filter = ["mode"]


@admin.register(SchemaChange)
class SchemaChangeAdmin(ReadOnlyAdmin):
    list_display = ["watermark", "kind", "policy", "outcome", "created_at", "accepted_by", "accepted_at"]
    list_filter = ["kind", "outcome"]


@admin.register(ApiToken)
class ApiTokenAdmin(UnchangeableAdmin):
    """Issued and revoked on Manage → API tokens (or create_api_token), which show the value once and audit."""

    list_display = ["name", "user", "created", "last_used"]
    fields = ["user", "name", "created", "last_used"]


@admin.register(AuditEntry)
class AuditEntryAdmin(UnchangeableAdmin):
    list_display = ["at", "actor", "role", "action", "object_kind", "object_name"]
    list_filter = ["action", "object_kind"]
    search_fields = ["actor", "object_name"]
    date_hierarchy = "at"
