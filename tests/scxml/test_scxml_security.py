"""Hostile documents are refused when they are loaded: entities, external references, unsafe code."""

from __future__ import annotations

from pathlib import Path

import pytest

from orderflow.errors import ScxmlError, UnsafeDocumentError, UnsafeExpressionError
from orderflow.io.expressions import Expression, ExpressionFailed, Script
from orderflow.io.scxml import load, loads

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE scxml [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0">
  <state id="s"><onentry><log expr="'&lol4;'"/></onentry></state>
</scxml>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE scxml [ <!ENTITY secret SYSTEM "file:///etc/passwd"> ]>
<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0">
  <state id="s"><onentry><log expr="'&secret;'"/></onentry></state>
</scxml>
"""


def _document(cond: str) -> str:
    return f"""<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="python">
  <state id="s"><transition cond="{cond}" target="f"/></state>
  <final id="f"/>
</scxml>"""


def test_billion_laughs_is_refused_before_any_expansion() -> None:
    with pytest.raises(UnsafeDocumentError, match="entity"):
        loads(BILLION_LAUGHS)


def test_an_external_entity_is_refused_and_never_read() -> None:
    with pytest.raises(UnsafeDocumentError, match="entit"):
        loads(EXTERNAL_ENTITY)


def test_import_in_a_cond_is_refused_at_load_time() -> None:
    with pytest.raises(UnsafeExpressionError, match="__import__"):
        loads(_document("__import__('os').system('echo owned')"))


@pytest.mark.parametrize(
    "cond",
    [
        "open('/etc/passwd').read()",
        "eval('1')",
        "getattr(_event, 'data')",
        "().__class__.__bases__[0].__subclasses__()",
        "[x for x in (y for y in [1])]",
        "_event.__dict__",
        "'{0.__class__}'.format(1)",
    ],
)
def test_code_that_escapes_the_sandbox_is_refused_at_load_time(cond: str) -> None:
    with pytest.raises(UnsafeExpressionError):
        loads(_document(cond))


def test_a_trusted_document_may_use_full_python() -> None:
    machine = loads(_document("__import__('math').floor(1.5) == 1"), trusted=True)
    snapshot, _ = machine.initial_transition()
    assert snapshot.value == "f"


def test_a_script_with_def_needs_trust() -> None:
    with pytest.raises(UnsafeExpressionError, match="FunctionDef"):
        Script("def f():\n    return 1")
    names: dict[str, object] = {}
    Script("def f():\n    return 1\nx = f()", trusted=True).run(names)
    assert names["x"] == 1


def test_a_syntax_error_is_kept_for_run_time() -> None:
    expression = Expression("1 = 1")
    with pytest.raises(ExpressionFailed, match="not a valid expression"):
        expression.evaluate({})


def test_huge_powers_and_repetitions_are_refused_at_run_time() -> None:
    with pytest.raises(ExpressionFailed, match="power"):
        Expression("10 ** 100000").evaluate({})
    with pytest.raises(ExpressionFailed, match="repetition"):
        Expression("'x' * 10 ** 9").evaluate({})


def test_an_untrusted_document_reads_no_data_outside_its_directory(tmp_path: Path) -> None:
    document = tmp_path / "doc.scxml"
    document.write_text(
        """<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" datamodel="python">
  <datamodel><data id="secret" src="file:../outside.txt"/></datamodel>
  <state id="s"/>
</scxml>"""
    )
    with pytest.raises(ScxmlError, match="outside the document's directory"):
        load(document)


def test_an_external_dtd_is_never_fetched() -> None:
    document = """<?xml version="1.0"?>
<!DOCTYPE scxml SYSTEM "http://example.invalid/scxml.dtd">
<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0"><state id="s"/></scxml>"""
    # the parser never reads an external DTD subset (the host does not even resolve)
    assert loads(document).initial_transition()[0].value == "s"
