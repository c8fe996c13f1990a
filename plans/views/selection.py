"""Placeholder until its author fills it in."""
urlpatterns = []
