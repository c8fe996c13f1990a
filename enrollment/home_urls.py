"""The portal's home, "/": the unit's workspace. Included by mutualaid/portal_urls.py, so its name is
`portal:home`."""
from django.urls import path

from .views.home import home

urlpatterns = [
    path("", home, name="home"),
]
