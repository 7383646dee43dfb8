"""Developer tools: benchmarks, schema export, data import helpers."""
