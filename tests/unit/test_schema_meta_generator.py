"""
``tests/support/gen_schema_meta.py`` rebuilds the in-memory NetBox model's table
(``salt_ext/utils/netbox/model/schema_meta.py``) byte for byte from NetBox 4.6.8's OpenAPI schema (read
from ``../shared`` at test time, never copied into the repository; skipped when it is absent).
"""

import pytest

from tests.support import gen_schema_meta
from tests.unit.conftest import SCHEMA


@pytest.fixture(scope="module")
def generated():
    if not SCHEMA.exists():
        pytest.skip(f"NetBox OpenAPI schema not found at {SCHEMA} (shared fixtures absent)")
    return gen_schema_meta.generate(SCHEMA)


def test_generator_reproduces_the_committed_table(generated):
    committed = gen_schema_meta.TARGET.read_text(encoding="utf-8")
    assert generated == committed, "run: make schema-meta SCHEMA=" + str(SCHEMA)


def test_check_mode_reports_a_difference(tmp_path, capsys, generated):
    stale = tmp_path / "schema_meta.py"
    stale.write_text(generated.replace("'max_length': 50,", "'max_length': 51,", 1))
    assert gen_schema_meta.main([str(SCHEMA), "--check", "--output", str(stale)]) == 1
    assert "+" in capsys.readouterr().out
    assert gen_schema_meta.main([str(SCHEMA), "--output", str(stale)]) == 0
    assert stale.read_text() == generated
    assert gen_schema_meta.main([str(SCHEMA), "--check", "--output", str(stale)]) == 0
