from django.urls import path

from mlopsadmin.search import views

urlpatterns = [path("", views.search, name="index")]
