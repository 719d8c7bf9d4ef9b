# Production image: gunicorn web, Celery worker and beat all run from it.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
RUN SECRET_KEY=build-only-not-secret-0123456789-abcdefghijklmnopqrstuvwxyz-build \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 python manage.py collectstatic --noinput -v 0
RUN useradd --create-home closedwon && mkdir -p /app/var && chown -R closedwon /app/var
USER closedwon
EXPOSE 8000
# Timeout chosen, not inherited: a request may hold a sync worker for up to 60 s (a
# streamed 100k-deal export takes ~10 s, a 1,000-row import preview a few seconds).
# Anything larger than a request can hold runs as a background job on the Celery worker
# (admin "Background import / export"), so the timeout never has to grow with the data.
# graceful-timeout lets a request in flight finish on a deploy.
CMD ["gunicorn", "closedwon.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60", "--graceful-timeout", "30", "--access-logfile", "-"]
