"""Follow a background export (mutualaid.exports) from the button to its file, for view tests.

Celery runs eagerly in tests, but the task starts on commit: inside a test's transaction only
captureOnCommitCallbacks(execute=True) runs it."""
from django.test import TestCase
from django.urls import resolve, reverse


def export_download(client, url: str):
    """GET the 【导出】 `url`, run the job it starts, check its page, and return the download response."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.get(url)
    assert response.status_code == 302, response.status_code
    match = resolve(response["Location"])
    assert match.view_name == "exports:job", response["Location"]
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "导出完成" in page.content.decode(), page.content.decode()
    download = client.get(reverse("exports:job_download", kwargs=match.kwargs))
    assert download.status_code == 200
    return download
