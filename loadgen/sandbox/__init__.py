"""A faithful local emulator of the Capture Entity API on SQLite, for load rehearsals and offline tests.

``serve()`` runs it in a background thread or process; ``create_app()`` gives the ASGI app itself.
"""

from loadgen.sandbox.app import create_app
from loadgen.sandbox.config import ClientSpec, SandboxConfig, load_clients
from loadgen.sandbox.faults import Faults
from loadgen.sandbox.server import Sandbox, serve

__all__ = ["ClientSpec", "Faults", "Sandbox", "SandboxConfig", "create_app", "load_clients", "serve"]
