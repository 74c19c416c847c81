#!/bin/sh
# Container start: apply migrations, create the first admin if asked to, then serve.
# gunicorn runs without its control socket: nothing here uses it, and the image user has no
# home folder to put it in (gunicorn would log an error at every start).
set -eu

python manage.py migrate --noinput

admin_exists() {
    python manage.py shell --verbosity=0 -c "import os; from accounts.models import User
print(User.objects.filter(email__iexact=os.environ['DJANGO_SUPERUSER_EMAIL']).exists())"
}

if [ -n "${DJANGO_SUPERUSER_EMAIL:-}" ] && [ -n "${DJANGO_SUPERUSER_PASSWORD:-}" ]; then
    # Every start after the first finds the admin there, and so does a replica that lost the
    # race to create it; any other failure (an email that is not one, the database) stops the
    # container with Django's message.
    if [ "$(admin_exists)" = "True" ]; then
        echo "Admin ${DJANGO_SUPERUSER_EMAIL} already exists"
    elif python manage.py createsuperuser --noinput >/dev/null; then
        echo "Created admin ${DJANGO_SUPERUSER_EMAIL}"
    elif [ "$(admin_exists)" = "True" ]; then
        echo "Admin ${DJANGO_SUPERUSER_EMAIL} already exists (made by another instance)"
    else
        exit 1
    fi
fi

exec gunicorn dispatchdesk.wsgi:application \
    --bind "${HOST:-0.0.0.0}:${PORT:-8000}" \
    --workers "${WEB_CONCURRENCY:-2}" \
    --timeout "${GUNICORN_TIMEOUT:-30}" \
    --access-logfile - \
    --no-control-socket \
    --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}"
