from django.urls import path

from mlopsadmin.audit import views

urlpatterns = [
    path("", views.audit_list, name="index"),
    path("events/<int:event_id>/", views.audit_event, name="event"),
    path("history/<str:kind>/<path:target_id>/", views.audit_history, name="history"),
    path("export.csv", views.audit_export_csv, name="export_csv"),
    path("export.jsonl", views.audit_export_jsonl, name="export_jsonl"),
    path("verify/", views.audit_verify, name="verify"),
]
