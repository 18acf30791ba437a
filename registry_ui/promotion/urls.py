from django.urls import path

from registry_ui.promotion import views

# Model names never hold "/" (MLflow refuses it) but may hold a tab or a line break, which <path:> (".+") does
# not match: <str:> ("[^/]+") does.

urlpatterns = [
    path("models/<str:name>/aliases/", views.aliases_page, name="aliases"),
    path("models/<str:name>/aliases/confirm/<str:action>/", views.alias_confirm, name="confirm"),
    path("models/<str:name>/aliases/change/<str:action>/", views.alias_change_view, name="change"),
    path("models/<str:name>/aliases/gate-policy/", views.gate_policy_view, name="gate_policy"),
    path("webhooks/mlflow/", views.mlflow_webhook, name="webhook"),
]
