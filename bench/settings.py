"""Settings of the intake bench's web server: the application's, plus the ceiling endpoint."""

from adplatform.settings import *  # noqa: F403 (an overlay of the application's settings)

ROOT_URLCONF = "bench.ceiling_urls"
