#!/bin/sh
# Container start: apply migrations, create the first admin if asked to, then serve.
# gunicorn runs without its control socket: nothing here uses it, and the image user has no
# home folder to put it in (gunicorn would log an error at every start).
set -eu

# gunicorn takes WEB_CONCURRENCY=0 and listens with no worker to answer, and gives a traceback
# for a word: these are checked first, each with a line that names it.
whole_number() {
    case "$2" in
        '' | *[!0-9]* | 0*) echo "$1 must be a whole number of at least 1, got '$2'." >&2; exit 1 ;;
    esac
}
whole_number WEB_CONCURRENCY "${WEB_CONCURRENCY:-2}"
whole_number PORT "${PORT:-8000}"
# Its length first: `[ -gt ]` takes a number too long for the shell as no number at all.
port="${PORT:-8000}"
if [ "${#port}" -gt 5 ] || [ "$port" -gt 65535 ]; then
    echo "PORT must be at most 65535, got '${port}'." >&2
    exit 1
fi
whole_number GUNICORN_TIMEOUT "${GUNICORN_TIMEOUT:-30}"

python manage.py migrate --noinput

# What DJANGO_SUPERUSER_EMAIL names now: "none", "admin" (an active admin), or the role of
# another user ("requester", "agent", ..., with " inactive" for a deactivated one).
superuser_email_holder() {
    python manage.py shell --verbosity=0 -c "import os; from accounts.models import User
email = User.objects.normalize_email(os.environ['DJANGO_SUPERUSER_EMAIL'])  # as it is stored
user = User.objects.filter(email=email).first()
if user is None:
    print('none')
elif user.role == 'admin' and user.is_active:
    print('admin')
else:
    print(user.role + ('' if user.is_active else ' inactive'))"
}

# An existing user is never changed here (role, password): starting with no admin while
# saying one exists would leave nobody able to manage users, so the container stops instead.
refuse_superuser_email() {
    echo "DJANGO_SUPERUSER_EMAIL ${DJANGO_SUPERUSER_EMAIL} belongs to an existing user who is" \
        "not an active admin ($1): make them an active admin, or name another email." >&2
    exit 1
}

# `createsuperuser --noinput` takes any password: check it with Django's validators, as the API
# checks a new user's, and stop with their messages.
check_superuser_password() {
    python manage.py shell --verbosity=0 -c "import os
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from accounts.models import User
admin = User(email=User.objects.normalize_email(os.environ['DJANGO_SUPERUSER_EMAIL']), role='admin')
try:
    validate_password(os.environ['DJANGO_SUPERUSER_PASSWORD'], admin)
except ValidationError as error:
    raise SystemExit('DJANGO_SUPERUSER_PASSWORD: ' + ' '.join(error.messages))"
}

# True (and says so) when DJANGO_SUPERUSER_EMAIL is an active admin's already; false when no
# user has it; stops the container when another kind of user has it. $1 is added to the message.
admin_exists() {
    holder="$(superuser_email_holder)"
    case "$holder" in
        admin) echo "Admin ${DJANGO_SUPERUSER_EMAIL} already exists$1" ;;
        none) return 1 ;;
        *) refuse_superuser_email "$holder" ;;
    esac
}

if [ -n "${DJANGO_SUPERUSER_EMAIL:-}" ] && [ -n "${DJANGO_SUPERUSER_PASSWORD:-}" ]; then
    # Every start after the first finds the admin there, and so does a replica that lost the
    # race to create it; any other failure (an email that is not one, the database) stops the
    # container with Django's message.
    if ! admin_exists ""; then
        check_superuser_password
        if python manage.py createsuperuser --noinput >/dev/null; then
            echo "Created admin ${DJANGO_SUPERUSER_EMAIL}"
        elif ! admin_exists " (made by another instance)"; then
            exit 1
        fi
    fi
fi

exec gunicorn dispatchdesk.wsgi:application \
    --bind "${HOST:-0.0.0.0}:${PORT:-8000}" \
    --workers "${WEB_CONCURRENCY:-2}" \
    --timeout "${GUNICORN_TIMEOUT:-30}" \
    --access-logfile - \
    --no-control-socket \
    --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}"
