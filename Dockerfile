# The production image: web (gunicorn), worker and beat all run from it (docker-compose.yml).
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DEBUG=0
# WeasyPrint needs Pango; without libharfbuzz-subset0 a Chinese PDF page takes ~10 s (ARCHITECTURE.md).
RUN apt-get update && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# SPEC OPS-5: the pinned, hashed dependency set first (a layer of its own), then the portal without deps.
COPY pyproject.toml requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY . .
RUN pip install --no-cache-dir --no-deps . \
    && SECRET_KEY=build-only-collectstatic-key-0000000000000000000000000 PII_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
       PII_HASH_KEY=build-only-not-a-secret EMAIL_BACKEND=build-only SMS_BACKEND=build-only \
       PORTAL_BASE_URL=https://build-only.invalid python manage.py collectstatic --noinput
RUN useradd --system --uid 10001 portal && mkdir -p /app/media && chown portal /app/media
USER portal
EXPOSE 8000
# Bind, workers, threads, timeout and the metrics folder (SPEC OPS-2): mutualaid/gunicorn_conf.py.
CMD ["gunicorn", "-c", "python:mutualaid.gunicorn_conf", "mutualaid.wsgi:application"]
