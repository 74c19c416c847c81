#!/bin/sh
# Container start: apply migrations, create the first admin if asked to, then serve.
set -eu

python manage.py migrate --noinput

if [ -n "${DJANGO_SUPERUSER_EMAIL:-}" ] && [ -n "${DJANGO_SUPERUSER_PASSWORD:-}" ]; then
    # Fails harmlessly when that admin already exists (every start after the first).
    python manage.py createsuperuser --noinput >/dev/null 2>&1 \
        && echo "Created admin ${DJANGO_SUPERUSER_EMAIL}" \
        || echo "Admin ${DJANGO_SUPERUSER_EMAIL} already exists"
fi

exec gunicorn dispatchdesk.wsgi:application \
    --bind "${HOST:-0.0.0.0}:${PORT:-8000}" \
    --workers "${WEB_CONCURRENCY:-2}" \
    --timeout "${GUNICORN_TIMEOUT:-30}" \
    --access-logfile - \
    --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}"
