from django.contrib.auth import views as auth_views
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
from .views import registration  # noqa: E402

urlpatterns += [
    path("register/", registration.register, name="register"),
    path("register/sms/", registration.register_sms, name="register_sms"),
    path("email/confirm/<str:token>/", registration.email_confirm_link, name="email_confirm"),
    path("email/resend/", registration.email_confirm_resend, name="email_confirm_resend"),
    path("password/forgot/", registration.PasswordResetView.as_view(), name="password_reset"),
    path("password/forgot/sent/", registration.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("password/forgot/done/", registration.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path(
        "password/forgot/<uidb64>/<token>/",
        registration.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
]

# Help: 技术支持, 下载中心 and the FAQ (SPEC ACC-6).
from .views import help as help_views  # noqa: E402

urlpatterns += [
    path("help/support/", help_views.support, name="support"),
    path("help/downloads/", help_views.downloads, name="downloads"),
    path("help/downloads/handbook.txt", help_views.download_handbook, name="download_handbook"),
    path("help/downloads/account-reset-form.pdf", help_views.download_account_reset_form, name="download_account_reset_form"),
    path("help/downloads/change-request-form.pdf", help_views.download_change_form, name="download_change_form"),
    path("help/faq/", help_views.faq, name="faq"),
]

# The second factor (SPEC SEC-8): the login's second step, enrolment, backup codes, 【两步验证】.
from .views import second_factor  # noqa: E402

urlpatterns += [
    path("login/verify/", second_factor.second_factor_verify, name="second_factor_verify"),
    path("second-factor/enrol/", second_factor.second_factor_enrol, name="second_factor_enrol"),
    path("second-factor/backup-codes/", second_factor.second_factor_backup_codes, name="second_factor_backup_codes"),
    path("second-factor/", second_factor.second_factor_settings, name="second_factor"),
]
