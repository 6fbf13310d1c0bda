"""Every name the documentation imports from sentinel-db exists where it says.

README.md, ARCHITECTURE.md and every page under docs/ are read for Python import statements
(in code blocks and in running text alike); each imported name is imported for real. The
package's ``__all__`` and the importer's are checked the same way.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import sentinel_db
import sentinel_db.importers

REPO_ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(
    [REPO_ROOT / "README.md", REPO_ROOT / "ARCHITECTURE.md", *(REPO_ROOT / "docs").rglob("*.md")]
)
FROM_IMPORT = re.compile(r"from\s+(sentinel_db(?:\.\w+)*)\s+import\s+(\([^)]*\)|[\w ,]+)")
PLAIN_IMPORT = re.compile(r"^\s*import\s+(sentinel_db(?:\.\w+)*)", re.MULTILINE)
RUN_MODULE = re.compile(r"python\s+-m\s+(sentinel_db(?:\.\w+)*)")


def documented_imports() -> list[tuple[str, str, str | None]]:
    """(page, module, name or None) for every import of sentinel_db the pages show."""
    found: list[tuple[str, str, str | None]] = []
    for page in PAGES:
        if not page.is_file():
            continue
        text = page.read_text(encoding="utf-8")
        where = str(page.relative_to(REPO_ROOT))
        for module, names in FROM_IMPORT.findall(text):
            for name in re.split(r"[\s,()]+", names):
                if name and name != "as" and not name.startswith("#"):
                    found.append((where, module, name.split(" as ")[0]))
        found += [(where, m, None) for m in PLAIN_IMPORT.findall(text)]
        found += [(where, m, None) for m in RUN_MODULE.findall(text)]
    return sorted(set(found), key=lambda f: (f[0], f[1], f[2] or ""))


IMPORTS = documented_imports()


def test_the_documentation_imports_something() -> None:
    assert any(page == "README.md" for page, _, _ in IMPORTS)


@pytest.mark.parametrize(
    ("page", "module", "name"), IMPORTS, ids=[f"{p}:{m}:{n}" for p, m, n in IMPORTS]
)
def test_every_documented_import_works(page: str, module: str, name: str | None) -> None:
    imported = importlib.import_module(module)
    if name is None:
        return
    if hasattr(imported, name):
        return
    # `from package import submodule`
    importlib.import_module(f"{module}.{name}")


@pytest.mark.parametrize("name", sentinel_db.__all__)
def test_every_public_name_of_the_package_resolves(name: str) -> None:
    assert getattr(sentinel_db, name) is not None


@pytest.mark.parametrize("name", sentinel_db.importers.__all__)
def test_every_public_name_of_the_importer_resolves(name: str) -> None:
    assert getattr(sentinel_db.importers, name) is not None
