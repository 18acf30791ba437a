from django.urls import path

from maintenance import views

urlpatterns = [
    path("", views.index, name="index"),
    path("tasks/<int:task_run_id>/", views.task_detail, name="task"),
    path("tasks/<int:task_run_id>/progress", views.task_progress, name="task_progress"),
    path("plans/new", views.plan_create, name="plan_create"),
    path("plans/<int:plan_id>/", views.plan_detail, name="plan"),
    path("plans/<int:plan_id>/execute", views.plan_execute, name="plan_execute"),
    path("plans/<int:plan_id>/resume", views.plan_resume, name="plan_resume"),
    path("reaper/start", views.reaper_start, name="reaper_start"),
    path("tasks/<int:task_run_id>/reap", views.reap_listed, name="reap_listed"),
    path("plans/<int:plan_id>/restore", views.plan_restore, name="plan_restore"),
    path("plans/<int:plan_id>/runs/<str:run_id>/restore", views.plan_restore_run, name="plan_restore_run"),
    path("capacity/start", views.capacity_start, name="capacity_start"),
]
