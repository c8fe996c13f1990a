"""The login captcha's images and refresh, at /captcha/ (mutualaid/urls.py). They must work before login;
not namespaced: the captcha widget reverses these names itself."""
from captcha import views as captcha_views
from django.contrib.auth.decorators import login_not_required
from django.urls import path

urlpatterns = [
    path("image/<str:key>@2/", login_not_required(captcha_views.captcha_image), {"scale": 2}, name="captcha-image-2x"),
    path("image/<str:key>/", login_not_required(captcha_views.captcha_image), {"scale": 1}, name="captcha-image"),
    path("refresh/", login_not_required(captcha_views.captcha_refresh), name="captcha-refresh"),
]
