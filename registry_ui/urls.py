from django.urls import path

from registry_ui import views

urlpatterns = [
    path("", views.index, name="index"),
]
