"""A revocation seen by two real web processes (gunicorn, one worker each, so that each
port is one process with its own key cache): once the revoke call returns, the next request
with the key is refused by both."""

import pytest
import requests

from adplatform.kernel.models import ApiKey
from adplatform.kernel.services import api_key_issue, api_key_revoke, retailer_set_active
from tests.conftest import WebServer, worker_env

pytestmark = pytest.mark.django_db(transaction=True)  # the servers see committed rows only


@pytest.fixture(scope="module")
def two_web_processes(django_db_setup, tmp_path_factory):
    root = tmp_path_factory.mktemp("web")
    servers = []
    try:
        for name in ("a", "b"):
            servers.append(WebServer(env=worker_env(), log_path=root / f"{name}.log", workers=1, threads=4))
        yield servers
    finally:
        for server in servers:
            server.kill()


def status_of(server, raw_key: str, path: str = "/api/v1/ads") -> int:
    return requests.get(server.url + path, headers={"Authorization": f"Bearer {raw_key}"}, timeout=30).status_code


def warm(servers, raw_key: str) -> None:
    for server in servers:
        for _ in range(3):  # the first request fills the process's cache; the others hit it
            assert status_of(server, raw_key) == 200


def test_a_key_revoked_through_one_process_is_refused_by_both_on_the_next_request(two_web_processes, retailer):
    a, b = two_web_processes
    manager = api_key_issue(retailer=retailer, scopes=["keys"]).raw_key
    leaked = api_key_issue(retailer=retailer, scopes=["read", "submit"])
    warm(two_web_processes, leaked.raw_key)

    revoked = requests.delete(
        f"{a.url}/api/v1/keys/{leaked.key.id}", headers={"Authorization": f"Bearer {manager}"}, timeout=30
    )
    assert revoked.status_code == 204, revoked.text

    assert status_of(a, leaked.raw_key) == 401
    assert status_of(b, leaked.raw_key) == 401
    assert ApiKey.objects.get(pk=leaked.key.pk).revoked_at is not None


def test_a_key_revoked_by_staff_elsewhere_is_refused_by_both(two_web_processes, retailer):
    leaked = api_key_issue(retailer=retailer, scopes=["read"])
    other = api_key_issue(retailer=retailer, scopes=["read"]).raw_key
    warm(two_web_processes, leaked.raw_key)
    warm(two_web_processes, other)
    api_key_revoke(key_id=leaked.key.id, actor="staff:alice")  # this test's process: neither server's
    for server in two_web_processes:
        assert status_of(server, leaked.raw_key) == 401
        assert status_of(server, other) == 200  # the retailer's other keys are unaffected


def test_a_deactivated_retailer_is_refused_by_both_on_the_next_request(two_web_processes, retailer):
    raw_key = api_key_issue(retailer=retailer, scopes=["read"]).raw_key
    warm(two_web_processes, raw_key)
    retailer_set_active(retailer=retailer, active=False, actor="staff:alice")
    assert [status_of(server, raw_key) for server in two_web_processes] == [401, 401]
    retailer_set_active(retailer=retailer, active=True, actor="staff:alice")
    assert [status_of(server, raw_key) for server in two_web_processes] == [200, 200]
