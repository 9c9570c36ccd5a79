"""Django admin: definitions are edited as ADF JSON (secrets masked); runs are read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from syncjobs.models import (
    ActivityRun,
    ApiToken,
    Dataset,
    LinkedService,
    Pipeline,
    PipelineRun,
    Trigger,
    Watermark,
    WatermarkWindow,
)


class DefinitionAdmin(admin.ModelAdmin):
    """Edit the JSON only: name, type and references follow it on save."""

    fields = ["definition", "created", "updated"]
    readonly_fields = ["created", "updated"]
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


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by runs: shown, never edited by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ActivityRunInline(admin.TabularInline):
    model = ActivityRun
    fields = ["activity_name", "activity_type", "status", "run_start", "duration_ms", "rows_written"]
    readonly_fields = fields
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


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "created", "last_used"]
    readonly_fields = ["created", "last_used"]
    fields = ["user", "name", "created", "last_used"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tokens are issued by create_api_token, which shows the value once
