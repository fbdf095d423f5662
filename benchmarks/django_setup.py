"""Django configured for the anchors: DRF, its authtoken app, knox and sessions on one SQLite file.

Django can be configured once per process, so :func:`configure` is called
once, with the database file of this run.
"""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth.hashers import Argon2PasswordHasher

#: authhub's default argon2id parameters (``password_time_cost`` and friends),
#: so DRF's BasicAuthentication verifies with exactly the work authhub-basic does.
TIME_COST = 3
MEMORY_COST = 65536
PARALLELISM = 4


class BenchArgon2Hasher(Argon2PasswordHasher):
    """Django's argon2 hasher with authhub's default parameters."""

    time_cost = TIME_COST
    memory_cost = MEMORY_COST
    parallelism = PARALLELISM


def configure(database: Path) -> None:
    import django
    from django.conf import settings

    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark-only-not-a-secret-0123456789abcdef0123456789",
        ALLOWED_HOSTS=["*"],
        USE_TZ=True,
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(database)}},
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sessions",
            "rest_framework",
            "rest_framework.authtoken",
            "knox",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
        ],
        PASSWORD_HASHERS=["django_setup.BenchArgon2Hasher"],
        SESSION_ENGINE="django.contrib.sessions.backends.db",
        REST_FRAMEWORK={"UNAUTHENTICATED_USER": None},
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        ROOT_URLCONF=__name__,
        LOGGING_CONFIG=None,
    )
    django.setup()


urlpatterns: list = []
