"""gunicorn's settings file, read from the working folder by every gunicorn started here (the
Procfile's, the tests' and the benches'); their command lines set everything else.

What gunicorn refuses itself, before the application sees the request (a request line over
4094 bytes, header fields too many or too large, a NUL in a header, a bad chunk, an Expect
it cannot meet, a transfer coding it does not know), is answered with a problem document like
every other error of the API, instead of gunicorn's HTML page. Self-contained: the master
process loads no part of the app (the metrics need their settings before anything else)."""

import json

from gunicorn import util

PROBLEM_BASE = "https://adplatform.example/problems/"
# gunicorn's status -> the problem type registered for it in adplatform/problems.py (the tests
# hold the two to the same slugs and titles).
SERVER_PROBLEMS = {
    400: ("bad-request", "The request is malformed."),
    403: ("forbidden", "You may not do this."),
    414: ("uri-too-long", "The URL is too long."),
    417: ("expectation-failed", "The Expect header cannot be met."),
    431: ("header-fields-too-large", "The request's header fields are too large."),
    500: ("internal", "Internal error."),
    501: ("not-implemented", "The request uses what the server does not implement."),
}


def write_problem(sock, status_int, reason, mesg):
    """gunicorn's util.write_error, answering problem details (application/problem+json)."""
    slug, title = SERVER_PROBLEMS.get(status_int, SERVER_PROBLEMS[400 if status_int < 500 else 500])
    body = json.dumps({"type": PROBLEM_BASE + slug, "title": title, "status": status_int, "detail": mesg or title})
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/problem+json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body.encode())


def on_starting(server):
    # The workers are forked from the master after this hook: they inherit the writer.
    util.write_error = write_problem
