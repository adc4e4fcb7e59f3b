"""Locust scenarios for the Capture Entity API.

Importing this package does not import Locust (gevent would monkey-patch the caller): the pure parts
(``pacing``, ``outcomes``, ``options``, ``state``, ``live``) import without it; ``users`` and ``hooks`` need it.
"""
