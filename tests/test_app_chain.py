"""ARCHITECTURE.md's chain of apps holds: each app imports only the apps before it in the flow
(mutualaid → accounts → enrollment → rosters → plans → payments → receipts → backoffice), nowhere,
not even inside a function; and no app imports another app's private (`_`-prefixed) name."""
import ast
from pathlib import Path

import pytest

CHAIN = ["mutualaid", "accounts", "enrollment", "rosters", "plans", "payments", "receipts", "backoffice"]
ROOT = Path(__file__).resolve().parent.parent


def _imports(app: str):
    """(file, line, imported module, imported names) of every absolute import in `app`'s code."""
    for path in sorted((ROOT / app).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield path.relative_to(ROOT), node.lineno, alias.name, []
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield path.relative_to(ROOT), node.lineno, node.module, [alias.name for alias in node.names]


@pytest.mark.parametrize("app", CHAIN)
def test_no_import_runs_up_the_chain(app):
    later = set(CHAIN[CHAIN.index(app) + 1 :])
    upward = [f"{path}:{line} imports {module}" for path, line, module, _ in _imports(app) if module.split(".")[0] in later]
    assert upward == []


@pytest.mark.parametrize("app", CHAIN)
def test_no_private_name_is_imported_from_another_app(app):
    others = set(CHAIN) - {app}
    private = [
        f"{path}:{line} imports {name} from {module}"
        for path, line, module, names in _imports(app)
        if module.split(".")[0] in others
        for name in names
        if name.startswith("_")
    ]
    assert private == []


# SPEC API-1 … API-3, ARCHITECTURE.md: `api` sits at the top beside `backoffice` and `lookup`: it may import
# every app of the chain, none of the other top apps, and nothing imports it (menus link to its pages by
# URL name only).
TOP_APPS = ["backoffice", "lookup", "api"]


@pytest.mark.parametrize("app", CHAIN + ["lookup"])
def test_nothing_imports_the_api_app(app):
    found = [f"{path}:{line} imports {module}" for path, line, module, _ in _imports(app) if module.split(".")[0] == "api"]
    assert found == []


def test_the_api_app_imports_no_other_top_app_and_no_private_name():
    others = set(TOP_APPS) - {"api"}
    sideways = [f"{path}:{line} imports {module}" for path, line, module, _ in _imports("api") if module.split(".")[0] in others]
    private = [
        f"{path}:{line} imports {name} from {module}"
        for path, line, module, names in _imports("api")
        if module.split(".")[0] in set(CHAIN)
        for name in names
        if name.startswith("_")
    ]
    assert sideways == [] and private == []
