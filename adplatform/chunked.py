"""Chunked request bodies for Django under gunicorn. A WSGI middleware, wrapped around the
application in wsgi.py; it imports nothing of the app, so that wrapping it there loads
nothing before Django's settings do (the metrics need their settings first)."""

import io


class ChunkedBodyMiddleware:
    """WSGI middleware: hand Django a chunked request body (`Transfer-Encoding: chunked`,
    which many HTTP clients use for large bodies) that it would otherwise read as empty.

    gunicorn decodes the chunks and says so (`wsgi.input_terminated`: the input ends where the
    body ends), but Django reads only CONTENT_LENGTH bytes, and a chunked request has none. So
    the body is read here, at most one byte past the largest body its view takes, and given to
    Django with its length. A longer body arrives cut at that length + 1, which Django's and
    the API's own size checks answer with the 413 problem, as they would a Content-Length."""

    BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
    # The views that take more than DATA_UPLOAD_MAX_MEMORY_SIZE (by URL name).
    LARGE_BODY_URLS = frozenset({"ads-batch"})

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        if (
            environ.get("wsgi.input_terminated")
            and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
            and not environ.get("CONTENT_LENGTH")
            and environ.get("REQUEST_METHOD") in self.BODY_METHODS
        ):
            limit = self.body_limit(environ.get("PATH_INFO", ""))
            body = environ["wsgi.input"].read(limit + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.application(environ, start_response)

    def body_limit(self, path: str) -> int:
        """The largest body the view at `path` takes: the batch endpoint's, or the limit of every
        other body (an anonymous admin POST is not read up to the batch's 16 MiB)."""
        from django.conf import settings  # configured by the time a request comes
        from django.urls import Resolver404, resolve

        limit = max(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0, settings.API_MAX_BODY_BYTES)
        try:
            large = resolve(path).url_name in self.LARGE_BODY_URLS
        except Resolver404:
            large = False
        return max(limit, settings.API_MAX_BATCH_BODY_BYTES) if large else limit
