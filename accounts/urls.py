from captcha import views as captcha_views
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import path

from .views import auth, landing

app_name = "accounts"

urlpatterns = [
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/change/", auth.PasswordChangeView.as_view(), name="password_change"),
    path("platform/", landing.landing, name="landing"),
    path("platform/workbench/", landing.workbench, name="workbench"),
]

# Registration, e-mail confirmation and the self-service password reset (SPEC ACC-2, ACC-3).
urlpatterns += []

# Help: 技术支持, 下载中心 and the FAQ (SPEC ACC-6).
urlpatterns += []

# The login captcha's images and refresh must work before login (not namespaced: the captcha widget
# reverses these names itself).
captcha_urlpatterns = [
    path("image/<str:key>@2/", login_not_required(captcha_views.captcha_image), {"scale": 2}, name="captcha-image-2x"),
    path("image/<str:key>/", login_not_required(captcha_views.captcha_image), {"scale": 1}, name="captcha-image"),
    path("refresh/", login_not_required(captcha_views.captcha_refresh), name="captcha-refresh"),
]
