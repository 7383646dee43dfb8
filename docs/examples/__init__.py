"""Example strategy plug-ins used by docs/strategies.md (importable as ``docs.examples.<module>``)."""
