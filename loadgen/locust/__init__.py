"""Locust scenarios for the Capture Entity API.

Importing this package does not import Locust (gevent would monkey-patch the caller): the pure parts
(``pacing``, ``outcomes``, ``options``, ``state``, ``load_state``, ``live``) import without it; ``users`` (the
base users and ``@paced``), ``capture`` (the scenario API, ``self.capture``) and ``hooks`` need it.
"""
