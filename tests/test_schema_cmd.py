"""`engine schema`: the catalogue's JSON Schema, pretty, or its fingerprint."""

import json

from engine.cli import main
from journal_schema.catalogue import json_schema, schema_fingerprint


def test_prints_the_catalogue_json_schema(capsys):
    assert main(["schema"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == json_schema()
    assert out.startswith('{\n  "$defs": {\n')
    assert json.loads(out)["$defs"]["OrderFilled"]["x-role"] == "input"


def test_fingerprint_only(capsys):
    assert main(["schema", "--fingerprint"]) == 0
    out = capsys.readouterr().out
    assert out == schema_fingerprint() + "\n"
    assert len(out.strip()) == 64
