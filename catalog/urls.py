from django.urls import path

from catalog import views

urlpatterns = [
    path("", views.index, name="index"),
    path("export.csv", views.export_csv, name="export"),
    path("sync", views.sync_now, name="sync"),
    path("sync/status", views.sync_status, name="sync_status"),
    path("builder/", views.builder, name="builder"),
    path("convention/", views.convention, name="convention"),
    path("experiments/<str:experiment_id>/", views.experiment_detail, name="experiment"),
    path("experiments/<str:experiment_id>/rename", views.experiment_rename_view, name="rename"),
    path("experiments/<str:experiment_id>/tag-runs", views.tag_runs_view, name="tag_runs"),
]
