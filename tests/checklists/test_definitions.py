"""The code base's definition files: every item of the guide's three checklists, parsed and versioned."""

from __future__ import annotations

import pytest

from checklists.definitions import DefinitionFileError, code_definitions, parse_definition
from checklists.probes import PROBES

GUIDE = "/work/shared/seed/mlflow-operations-guide.txt"


def test_three_checklists_with_every_guide_item() -> None:
    specs = code_definitions()
    assert {kind: len(spec.items) for kind, spec in specs.items()} == {"initial": 7, "weekly": 5, "monthly": 5}
    texts = [item.text for spec in specs.values() for item in spec.items]
    assert "Backup/recovery procedure tested" in texts
    assert "Tracking server response time verified (maintain P95 under 500ms)" in texts
    assert "PostgreSQL/MySQL backend store configuration complete" in texts


def test_every_probe_named_in_a_definition_exists() -> None:
    for spec in code_definitions().values():
        for item in spec.items:
            assert item.mode in ("auto", "manual", "manual+probe")
            if item.probe:
                assert item.probe in PROBES, item.probe


def test_guide_items_match_files_when_guide_is_present() -> None:
    from pathlib import Path

    path = Path(GUIDE)
    if not path.exists():
        pytest.skip("operations guide not on this machine")
    text = path.read_text()
    section = text[text.index("Initial Setup Checklist") : text.index("Rollback and Disaster Recovery")]
    guide_items = [line[6:].strip() for line in section.splitlines() if line.startswith("- [ ] ")]
    ours = [item.text for kind in ("initial", "weekly", "monthly") for item in code_definitions()[kind].items]
    assert ours == guide_items


@pytest.mark.parametrize(
    "text",
    [
        "# T\n- [ ] no header <!-- key: a; manual -->\n",
        "# T\n<!-- kind: weekly; version: 1 -->\n- [ ] no metadata\n",
        "# T\n<!-- kind: weekly; version: 1 -->\n- [ ] a <!-- key: a; probe -->\n",
        "# T\n<!-- kind: weekly; version: 1 -->\n- [ ] a <!-- key: a; manual -->\n- [ ] b <!-- key: a; manual -->\n",
    ],
)
def test_malformed_definition_files_are_refused(text: str) -> None:
    with pytest.raises(DefinitionFileError):
        parse_definition(text)
