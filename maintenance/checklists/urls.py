from django.urls import path

from maintenance import views

urlpatterns = [
    path("", views.checklists, name="index"),
]
