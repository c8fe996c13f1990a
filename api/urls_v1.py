"""/api/v1/ (SPEC API-2): the operations, the OpenAPI document (openapi.json) and the docs page (docs),
each exempt from the portal's login (see api/urls.py)."""
from .urls import api_urls

app_name = "api_v1"  # api.api's urls_namespace: ninja reverses its own URLs in it
urlpatterns = api_urls[0]
