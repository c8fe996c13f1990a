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
