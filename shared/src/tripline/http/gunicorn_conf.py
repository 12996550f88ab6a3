"""Gunicorn settings for every service's web process (``--config python:tripline.http.gunicorn_conf``)."""

import os

# gthread: blocking database calls park a thread, not the worker; scale out with replicas.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
threads = int(os.environ.get("WEB_THREADS", "16"))
timeout = 35  # above the longest ?wait= of 30 s
graceful_timeout = 20
keepalive = 5
accesslog = None  # the app writes its own JSON access log
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


def post_worker_init(worker: object) -> None:
    """Gunicorn hook: each worker answers gunicorn's own refusals (e.g. a header too large) as problem details."""
    # Imported here: gunicorn reads this module in its master, which has no use for Flask and the app's imports.
    from tripline.http.server_refusals import answer_refusals_as_problems

    answer_refusals_as_problems()
