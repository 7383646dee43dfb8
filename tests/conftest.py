import os
import tempfile

# One calendar cache per test session, shared by subprocesses, never the user's own.
os.environ.setdefault("ENGINE_CACHE_DIR", tempfile.mkdtemp(prefix="engine-test-cache-"))
