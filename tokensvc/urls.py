"""URL map of the token service."""

from django.contrib import admin
from django.urls import path

admin.site.site_header = "Token service administration"
admin.site.site_title = "Token service"
admin.site.index_title = "Policy, clients and tokens"

urlpatterns = [
    path("admin/", admin.site.urls),
]
