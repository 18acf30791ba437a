from django.urls import path

from notifications import views

urlpatterns = [
    path("", views.delivery_log, name="log"),
    path("<int:notification_id>/resend", views.resend, name="resend"),
    path("watch/<str:name>", views.watch, name="watch"),
]
