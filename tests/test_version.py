import re

from engine.version import code_version


def test_code_version_names_package_and_source_digest():
    assert re.fullmatch(r"0\.1\.0\+src\.[0-9a-f]{12}", code_version())


def test_plugin_strategy_source_is_part_of_the_code_version():
    assert code_version("docs.examples.breakout:SPEC") != code_version("sma_cross") == code_version()
