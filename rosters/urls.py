"""The roster pages of a batch (SPEC ROS): the list and its actions (views/roster.py) and
导入人员名单 with its progress and results (views/imports.py)."""
from .views import imports, roster, validation

app_name = "rosters"

urlpatterns = roster.urlpatterns + imports.urlpatterns + validation.urlpatterns

from .views import submission  # noqa: E402  (【清册提交】, SPEC BAT-4)
urlpatterns += submission.urlpatterns
