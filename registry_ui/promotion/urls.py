from django.urls import path

from registry_ui.promotion import views

urlpatterns = [
    path("models/<path:name>/aliases/", views.aliases_page, name="aliases"),
    path("models/<path:name>/aliases/confirm/<str:action>/", views.alias_confirm, name="confirm"),
    path("models/<path:name>/aliases/change/<str:action>/", views.alias_change_view, name="change"),
    path("models/<path:name>/aliases/gate-policy/", views.gate_policy_view, name="gate_policy"),
    path("webhooks/mlflow/", views.mlflow_webhook, name="webhook"),
]
