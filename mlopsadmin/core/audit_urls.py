from django.urls import path

from mlopsadmin.core import views

urlpatterns = [
    path("", views.audit_list, name="index"),
]
