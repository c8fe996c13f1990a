"""What drawing a PDF needs (ARCHITECTURE.md "Libraries and why"): WeasyPrint loads Pango when it is
imported, so the PDF pages import it inside their functions and, when it fails, name the Debian
packages to install instead of showing a traceback."""

WEASYPRINT_PACKAGES = "libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk"
