# PeerReady server image: WeasyPrint's system libraries, a non-root user, SQLite data in a volume.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PEERREADY_DATA_DIR=/data \
    PEERREADY_ENV=production

# Pango and HarfBuzz for WeasyPrint, DejaVu fonts for the reports.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 peerready \
    && mkdir -p /data && chown peerready /data

WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
COPY app ./app
COPY instruments ./instruments
COPY templates ./templates
COPY reports ./reports
RUN pip install --no-cache-dir -c requirements.lock .

USER 10001
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# SECRET_KEY must be provided at run time (the app refuses to start in production without it).
# Background jobs: run a second container from this image with the same settings and volume and
# the command `peerready worker` (it stops gracefully on SIGTERM, as `docker stop` sends).
CMD ["sh", "-c", "peerready db upgrade && exec peerready serve --host 0.0.0.0 --port 8000"]
