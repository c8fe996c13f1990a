"""What the back office's own pages share, whichever app's admin draws them (accounts, enrollment and the
apps after it, backoffice): no model sidebar, and the pages' own <style> block allowed."""
from csp.constants import NONCE

# The back office's pages are wide tables and short or read-only forms: the model sidebar only takes room.
PAGE_CONTEXT = {"is_nav_sidebar_enabled": False}


def with_page_styles(response):
    """Let the page's own <style> block (e.g. templates/admin/enrollment/_styles.html) through the
    content security policy with this response's nonce."""
    response._csp_update = {"style-src": [NONCE]}
    return response
