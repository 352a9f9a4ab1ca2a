"""Production settings: secrets required off the embedded demo, every TLS, proxy and CSRF
origin setting read from the environment, `check --deploy` clean under the documented
production environment (README, *Running in production*), a content security policy."""

import json
import re
import secrets
import subprocess
import sys

import pytest

from tests.conftest import ROOT, worker_env

SECURITY = [
    "DEBUG",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "TRUSTED_PROXY_COUNT",
]


def documented_production_env() -> dict:
    """The README's production block, its placeholders filled with fresh secrets."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Running in production\n.*?```sh\n(.*?)```", readme, re.S).group(1)
    env = dict(line.split("=", 1) for line in block.strip().splitlines())
    assert all(env[name].startswith("<") for name in ["SECRET_KEY", "AUDIT_HMAC_KEYS", "WEBHOOK_SECRET_KEYS"])
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    env["AUDIT_HMAC_KEYS"] = f"prod={secrets.token_hex(32)}"
    env["WEBHOOK_SECRET_KEYS"] = f"prod={secrets.token_hex(32)}"
    return env


def run(args, **env) -> subprocess.CompletedProcess:
    environment = worker_env(**env)
    # The browser tests set this in the suite's own process (tests/browser/conftest.py); it is
    # no part of a deployment, and check --deploy rightly refuses it.
    environment.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    for name, value in env.items():
        if value is None:
            environment.pop(name, None)
    return subprocess.run(args, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)


def settings_of(names, **env) -> dict:
    done = run(
        [
            sys.executable,
            "-c",
            "import json, sys; from django.conf import settings as s; "
            "print(json.dumps({n: getattr(s, n) for n in sys.argv[1:]}))",
            *names,
        ],
        **env,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_check_deploy_is_clean_under_the_documented_production_environment():
    done = run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], **documented_production_env()
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert "System check identified no issues" in done.stdout


def test_check_deploy_warns_on_the_development_defaults():
    # The same check is not a formality: without the production block it fails.
    done = run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert done.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in done.stderr


def test_every_security_setting_is_read_from_the_environment():
    env = documented_production_env()
    read = settings_of(SECURITY, **env)
    assert read == {
        "DEBUG": False,
        "ALLOWED_HOSTS": ["adplatform.example.com"],
        "CSRF_TRUSTED_ORIGINS": ["https://adplatform.example.com"],
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "TRUSTED_PROXY_COUNT": 1,
    }


@pytest.mark.parametrize("secret", ["SECRET_KEY", "AUDIT_HMAC_KEYS", "WEBHOOK_SECRET_KEYS"])
def test_a_secret_is_required_on_postgresql(secret):
    done = run([sys.executable, "-c", "from django.conf import settings; settings.INSTALLED_APPS"], **{secret: None})
    assert (
        done.returncode != 0
        and f"{secret} must be set when DATABASE_URL is not the embedded SQLite demo" in done.stderr
    )


def test_the_embedded_demo_generates_its_secrets_once_and_keeps_them(tmp_path):
    demo = {
        "DATABASE_URL": None,
        "REDIS_URL": None,
        "SECRET_KEY": None,
        "AUDIT_HMAC_KEYS": None,
        "WEBHOOK_SECRET_KEYS": None,
        "ADPLATFORM_DATA_DIR": str(tmp_path),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
    }
    names = ["SECRET_KEY", "AUDIT_HMAC_KEYS", "WEBHOOK_SECRET_KEYS", "STAFF_REQUIRE_2FA"]
    first, second = settings_of(names, **demo), settings_of(names, **demo)
    assert (
        first == second and len(first["SECRET_KEY"]) >= 50 and first["SECRET_KEY"] != "dev-only-insecure-key-change-me"
    )
    assert first["AUDIT_HMAC_KEYS"]["demo"] == (tmp_path / "audit_hmac_key").read_text()
    assert first["WEBHOOK_SECRET_KEYS"]["demo"] == (tmp_path / "webhook_secret_key").read_text()
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert first["STAFF_REQUIRE_2FA"] is False  # the demo's admin needs no second factor
    assert settings_of(["STAFF_REQUIRE_2FA"])["STAFF_REQUIRE_2FA"] is True  # PostgreSQL: on by default


def test_the_admin_and_the_docs_carry_a_content_security_policy(client):
    for url in ("/admin/login/", "/api/docs/"):
        policy = client.get(url)["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
    docs = client.get("/api/docs/").content.decode()
    assert "<script>" not in docs  # the start-up script is a file of its own
    script = client.get("/api/docs/", {"script": ""})
    assert script.status_code == 200 and "/api/schema/" in script.content.decode()


@pytest.mark.parametrize("setting", ["AUDIT_HMAC_KEYS", "WEBHOOK_SECRET_KEYS"])
def test_a_malformed_key_list_is_refused_with_one_message(setting):
    # The second pair's id names a stored value's separator; its secret never reaches the message.
    done = run(
        [sys.executable, "-c", "from django.conf import settings; settings.INSTALLED_APPS"],
        **{setting: f"a={'x' * 32},b:2={'s3cret' * 6}"},
    )
    assert done.returncode != 0
    assert f"{setting}: pair 2 of 2 is malformed; give id=secret pairs separated by commas" in done.stderr
    assert "s3cret" not in done.stderr
