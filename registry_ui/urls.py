from django.urls import path

from registry_ui import views
from registry_ui.approvals import views as approval_views
from registry_ui.compare import views as compare_views
from registry_ui.environments import views as env_views

# MLflow 3 model names cannot contain "/" or ":" (validated by MLflow), so <str:name> is enough.
urlpatterns = [
    path("", views.index, name="index"),
    path("inbox/", approval_views.inbox, name="inbox"),
    path("settings/", views.registry_settings, name="settings"),
    path("runs/compare/", compare_views.runs_compare, name="compare_runs"),
    path("sync", views.registry_sync, name="sync"),
    path("requests/<int:request_id>/withdraw", approval_views.approval_withdraw, name="withdraw"),
    path("requests/<int:request_id>/decide", approval_views.approval_decide, name="decide"),
    path("models/<str:name>/versions/<str:version>/tags", views.version_tag, name="version_tag"),
    path("models/<str:name>/versions/<str:version>/request", approval_views.approval_create, name="request"),
    path("models/<str:name>/versions/<str:version>/promote", env_views.environment_promote, name="env_promote"),
    path(
        "models/<str:name>/versions/<str:version>/promote/request",
        env_views.environment_approval_request,
        name="env_approval_request",
    ),
    path("models/<str:name>/versions/<str:version>/promote/cleanup", env_views.environment_cleanup, name="env_cleanup"),
    path("models/<str:name>/versions/<str:version>/", views.version_detail, name="version"),
    path("models/<str:name>/compare/", compare_views.versions_compare, name="compare"),
    path("models/<str:name>/environments/", env_views.environment_side_by_side, name="env_side"),
    path("models/<str:name>/", views.model_detail, name="model"),
]
