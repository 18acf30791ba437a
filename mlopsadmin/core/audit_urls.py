from django.urls import path

from mlopsadmin.core import audit_views

urlpatterns = [
    path("", audit_views.audit_list, name="index"),
    path("events/<int:event_id>/", audit_views.audit_event, name="event"),
    path("history/<str:kind>/<path:target_id>/", audit_views.audit_history, name="history"),
    path("export.csv", audit_views.audit_export_csv, name="export_csv"),
    path("export.jsonl", audit_views.audit_export_jsonl, name="export_jsonl"),
    path("verify/", audit_views.audit_verify, name="verify"),
]
