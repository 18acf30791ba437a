urlpatterns: list = []  # filled by the promotion feature
