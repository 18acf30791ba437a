from django.contrib.auth.decorators import login_not_required
from django.urls import path

from mlopsadmin.accounts import permission_views, views

# Names without a namespace: Django's LOGIN_URL and the OIDC library reverse them by these names.
urlpatterns = [
    path("accounts/login/", login_not_required(views.LoginView.as_view()), name="login"),
    path("accounts/logout/", views.logout_view, name="logout"),
    path("oidc/authenticate/", views.oidc_start, name="oidc_authentication_init"),
    path("oidc/callback/", views.oidc_callback, name="oidc_authentication_callback"),
]

urlpatterns += [
    path("accounts/mlflow-permissions/", permission_views.drift, name="mlflow_permissions"),
    path("accounts/mlflow-permissions/apply", permission_views.apply, name="mlflow_permissions_apply"),
]
