import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kwaliteitsnetwerk.settings")

app = Celery("kwaliteitsnetwerk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
