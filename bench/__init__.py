"""Benchmarks of adplatform, run on demand (never in the test suite): `python -m bench --help`.

Each bench starts the real stack (gunicorn, Celery workers, PostgreSQL, Redis) on 127.0.0.1
against a database of its own, drives it with a bounded load, prints a table, and writes
its figures to bench/results/. See bench/README.md.
"""
