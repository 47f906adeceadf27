"""URLs of the customer-data API, each with its version prefix.

They sit at the top of the service's URL map (tokensvc.urls) instead of under
`include("api/v1/")`: an included map raises Resolver404 for every path outside its prefix,
and the token endpoint and introspection paid for that exception on every request.
"""

from django.urls import path

from claims import views

# Also in settings.MACHINE_PATH_PREFIXES, where the people's middleware steps aside.
API_PREFIX = "api/v1/"

urlpatterns = [
    path(f"{API_PREFIX}customers/", views.CustomerListView.as_view(), name="customer-list"),
    path(
        f"{API_PREFIX}customers/<int:customer_id>/",
        views.CustomerDetailView.as_view(),
        name="customer-detail",
    ),
]
