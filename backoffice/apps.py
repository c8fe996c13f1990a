from django.contrib.admin.apps import AdminConfig


class BackOfficeAdminConfig(AdminConfig):
    """django.contrib.admin with the back office's site as the default one (`admin.site`)."""

    default_site = "backoffice.site.BackOfficeSite"
