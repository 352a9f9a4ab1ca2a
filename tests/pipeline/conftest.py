import pytest
import requests

from tests.conftest import wait_for

FINAL = {"approved", "rejected", "needs_review"}


class LiveApi:
    """A retailer's HTTP client against the live server (real sockets, real threads)."""

    def __init__(self, base_url: str, key: str):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def post(self, path, json=None, **kwargs):
        return self.session.post(self.base_url + path, json=json, timeout=30, **kwargs)

    def get(self, path, **kwargs):
        return self.session.get(self.base_url + path, timeout=30, **kwargs)

    def close(self):
        # The live server's thread for a kept-alive connection holds a database session
        # until the client hangs up, and the test database cannot be dropped while it does.
        self.session.close()

    def wait_final(self, ad_id, timeout=60) -> dict:
        def final():
            response = self.get(f"/api/v1/ads/{ad_id}")
            assert response.status_code == 200, response.text
            body = response.json()
            return body if body["status"] in FINAL else None

        return wait_for(final, timeout=timeout, what=f"ad {ad_id} to reach a final state")


@pytest.fixture
def live_api_for(live_server, celery_worker):
    """live_api_for(retailer): a LiveApi with a new key of that retailer, closed after the test."""
    from adplatform.kernel.services import api_key_create

    clients = []

    def make(retailer) -> LiveApi:
        clients.append(LiveApi(live_server.url, api_key_create(retailer=retailer)))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def live_api(live_api_for, retailer):
    return live_api_for(retailer)
