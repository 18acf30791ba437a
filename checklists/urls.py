from django.urls import path

from checklists import views

urlpatterns = [
    path("", views.index, name="index"),
    path("create", views.ensure, name="ensure"),
    path("definitions/", views.definitions, name="definitions"),
    path("definitions/<str:kind>/edit", views.definition_edit, name="definition_edit"),
    path("<int:instance_id>/", views.instance_detail, name="instance"),
    path("<int:instance_id>/items/<slug:key>/tick", views.item_tick, name="tick"),
    path("<int:instance_id>/probes", views.probes_run, name="probes"),
    path("<int:instance_id>/sign-off", views.sign_off, name="sign_off"),
]
