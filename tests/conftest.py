import os
import tempfile

# One calendar cache per test session, shared by subprocesses, never the user's own.
os.environ.setdefault("ENGINE_CACHE_DIR", tempfile.mkdtemp(prefix="engine-test-cache-"))

from tests.stores import journal_url  # noqa: E402, F401  (the fixture: a journal on SQLite and on Postgres)

pytest_plugins = ("tests.venue_support",)  # the fixtures bars and venue: the local venue over a bar file
