from django.conf import settings
from django.urls import include, path

from mlopsadmin.api.main import api
from mlopsadmin.core import views as core_views
from mlopsadmin.core.admin import site as admin_site
from monitoring import views as monitoring_views

handler400 = "mlopsadmin.core.views.bad_request"
handler404 = "mlopsadmin.core.views.page_not_found"
handler500 = "mlopsadmin.core.views.server_error"

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("", include("mlopsadmin.accounts.urls")),
    path("metrics", monitoring_views.metrics, name="metrics"),
    path("account/tokens/", core_views.api_tokens, name="tokens"),
    path("account/tokens/<int:token_id>/revoke", core_views.api_token_revoke_view, name="token_revoke"),
    path("audit/", include(("mlopsadmin.audit.urls", "audit"))),
    path("search/", include(("mlopsadmin.search.urls", "search"))),
    path("catalog/", include(("catalog.urls", "catalog"))),
    path("registry/", include(("registry_ui.urls", "registry"))),
    path("maintenance/", include(("maintenance.urls", "maintenance"))),
    path("registry/", include(("registry_ui.promotion.urls", "promotion"))),
    path("checklists/", include(("checklists.urls", "checklists"))),
    path("notifications/", include(("notifications.urls", "notifications"))),
    path("admin/", admin_site.urls),
    path("api/v1/", api.urls),
]

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
