from axes.backends import AxesStandaloneBackend


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check (SPEC ACC-4) for every login made through a request.

    Code that authenticates without a request (the test client's `login()`, a shell) has no address
    to lock; django-axes would raise there, so the check steps aside and the next backend decides.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
