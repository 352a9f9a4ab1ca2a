"""The platform's API as a well-behaved client calls it, for the benches and the tests that
drive a running platform over HTTP."""

import time

import requests


def post_until_admitted(session: requests.Session, url: str, body, *, timeout: float, shed: list) -> requests.Response:
    """POST `body` (JSON) to `url`. An answer of 503 `intake-overloaded` (admission control:
    the consumers are seconds behind) is appended to `shed` and the request sent again after
    its Retry-After, as a client should; the first other answer is returned, whatever it is."""
    while True:
        answer = session.post(url, json=body, timeout=timeout)
        if answer.status_code != 503 or not answer.json().get("type", "").endswith("/intake-overloaded"):
            return answer
        shed.append(answer)
        time.sleep(int(answer.headers.get("Retry-After", "1")))
