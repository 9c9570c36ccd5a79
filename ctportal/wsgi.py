"""WSGI entry point (gunicorn ctportal.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ctportal.settings")
application = get_wsgi_application()
