"""syncjobs URLs: Author, Monitor and Manage pages, and the health check.

Every view declares the role it needs (``syncjobs.access.requires``, or ``public``); a test walks
these patterns and fails on one that does not.
"""

from django.urls import path

from syncjobs.views import (
    activities,
    alerts,
    author,
    health,
    home,
    manage,
    monitor,
    objects,
    run_files,
    schema_drift,
    tables,
    tables_add,
    tables_tracking,
    triggers,
    users,
)

app_name = "syncjobs"
urlpatterns = [
    path("", home.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    # Monitor
    path("monitor/", monitor.runs, name="monitor"),
    path("monitor/rows", monitor.run_rows, name="run_rows"),
    path("monitor/runs/<uuid:run_id>/", monitor.run_detail, name="run_detail"),
    path("monitor/runs/<uuid:run_id>/files/<uuid:activity_run_id>/<int:index>/", run_files.preview, name="run_file"),
    path(
        "monitor/runs/<uuid:run_id>/files/<uuid:activity_run_id>/<int:index>/download",
        run_files.download,
        name="run_file_download",
    ),
    path("monitor/runs/<uuid:run_id>/cancel", monitor.cancel, name="run_cancel"),
    path("monitor/runs/<uuid:run_id>/rerun", monitor.rerun_view, name="run_rerun"),
    path("monitor/pipelines/<str:name>/", monitor.pipeline_history, name="pipeline_history"),
    path("monitor/watermarks/", monitor.watermarks, name="watermarks"),
    # Alerts
    path("alerts/", alerts.alerts, name="alerts"),
    path("alerts/evaluate", alerts.evaluate_now, name="alerts_evaluate"),
    path("alerts/incidents/<int:incident_id>/", alerts.incident, name="alert_incident"),
    path("alerts/channels/", alerts.channels, name="alert_channels"),
    path("alerts/channels/<int:channel_id>/", alerts.channel, name="alert_channel"),
    path("alerts/channels/<int:channel_id>/test", alerts.channel_test, name="alert_channel_test"),
    path("alerts/rules/", alerts.rules, name="alert_rules"),
    path("alerts/rules/<int:rule_id>/", alerts.rule, name="alert_rule"),
    # Tables
    path("tables/", tables.index, name="tables"),
    path("tables/<int:table_id>/", tables.detail, name="table_detail"),
    path("tables/actions/<str:action>", tables.action, name="table_action"),
    path("tables/resync/", tables.resync, name="table_resync"),
    path("tables/<int:watermark_id>/schema/", schema_drift.schema_page, name="table_schema"),
    path("tables/<int:watermark_id>/schema/accept", schema_drift.accept, name="table_schema_accept"),
    path("tables/schema/policy", schema_drift.set_policy, name="table_schema_policy"),
    # Manage
    path("manage/", manage.linked_services, name="manage"),
    path("manage/linkedservices/new/<str:kind>/", manage.new_linked_service, name="manage_new"),
    path("manage/linkedservices/<str:name>/", manage.edit_linked_service, name="manage_edit"),
    path(
        "manage/linkedservices/<str:name>/actions/",
        objects.object_actions,
        {"kind": "linkedService"},
        name="manage_linked_service_actions",
    ),
    path("manage/test-connection/", manage.test_connection, name="manage_test"),
    path("manage/triggers/new/", triggers.new_trigger, name="manage_trigger_new"),
    path("manage/triggers/<str:name>/", triggers.edit_trigger, name="manage_trigger"),
    path("manage/triggers/<str:name>/state", manage.trigger_state, name="manage_trigger_state"),
    path(
        "manage/triggers/<str:name>/actions/",
        objects.object_actions,
        {"kind": "trigger"},
        name="manage_trigger_actions",
    ),
    path("manage/users/", users.users, name="manage_users"),
    path("manage/users/<int:user_id>/", users.change_user, name="manage_user"),
    path("manage/tokens/", users.tokens, name="manage_tokens"),
    path("manage/tokens/<int:token_id>/revoke", users.revoke_token, name="manage_token_revoke"),
    path("manage/audit/", users.audit_log, name="manage_audit"),
    # Tables: Add tables (the wizard) and change tracking
    path("tables/add/", tables_add.add, name="tables_add"),
    path("tables/add/review", tables_add.review, name="tables_add_review"),
    path("tables/add/create", tables_add.create, name="tables_add_create"),
    path("tables/add/done/<str:name>/", tables_add.done, name="tables_add_done"),
    path("tables/change-tracking/", tables_tracking.tracking, name="tables_change_tracking"),
    path("tables/change-tracking/confirm", tables_tracking.confirm, name="tables_change_tracking_confirm"),
    path("tables/change-tracking/run", tables_tracking.run, name="tables_change_tracking_run"),
    # Author
    path("author/", author.index, name="author"),
    path("author/datasets/new/", author.new_dataset, name="author_dataset_new"),
    path("author/datasets/<str:name>/", author.edit_dataset, name="author_dataset"),
    path(
        "author/datasets/<str:name>/actions/",
        objects.object_actions,
        {"kind": "dataset"},
        name="author_dataset_actions",
    ),
    path("author/catalogue/", author.catalogue_view, name="author_catalogue"),
    path("author/pipelines/new/", author.new_pipeline, name="author_pipeline_new"),
    path("author/pipelines/<str:name>/", author.pipeline, name="author_pipeline"),
    path(
        "author/pipelines/<str:name>/actions/",
        objects.object_actions,
        {"kind": "pipeline"},
        name="author_pipeline_actions",
    ),
    path("author/pipelines/<str:name>/trigger", author.trigger_now, name="author_trigger"),
    path("author/pipelines/<str:name>/activities/<int:index>", author.edit_activity, name="author_activity"),
    path("author/pipelines/<str:name>/activities/new", activities.new_activity, name="author_activity_new"),
    path(
        "author/pipelines/<str:name>/activities/<int:index>/remove",
        activities.remove,
        name="author_activity_remove",
    ),
    path("author/pipelines/<str:name>/activities/<int:index>/move", activities.move, name="author_activity_move"),
    path(
        "author/pipelines/<str:name>/activities/<int:index>/depends",
        activities.dependencies,
        name="author_activity_depends",
    ),
]
