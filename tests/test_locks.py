"""SPEC OPS-5: installs are reproducible. Every dependency pyproject.toml names is pinned, with hashes,
in the lock files `make install` and the Dockerfile install from (`make lock` refreshes them)."""
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    """The normalised project name of a requirement such as `psycopg[binary]>=3.2`."""
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", requirement).group(0)).lower()


def _pins(lock: str) -> dict[str, str]:
    """name → the block of its pin (`name==version \\` and its --hash lines)."""
    text = (ROOT / lock).read_text()
    blocks = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)((?:\s*\\\n\s+--hash=sha256:[0-9a-f]{64})+)", text, re.M)
    return {re.sub(r"[-_.]+", "-", name).lower(): hashes for name, _, hashes in blocks}


PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


@pytest.mark.parametrize(
    ("lock", "requirements"),
    [
        ("requirements.lock", PYPROJECT["dependencies"]),
        ("requirements-dev.lock", PYPROJECT["dependencies"] + PYPROJECT["optional-dependencies"]["dev"]),
    ],
)
def test_every_dependency_is_pinned_with_hashes(lock, requirements):
    pins = _pins(lock)
    missing = sorted({_name(requirement) for requirement in requirements} - set(pins))
    assert not missing, f"{lock} lacks {missing}: run `make lock` after changing pyproject.toml"


def test_every_pin_of_the_locks_has_a_hash():
    for lock in ("requirements.lock", "requirements-dev.lock"):
        text = (ROOT / lock).read_text()
        pinned = re.findall(r"^[A-Za-z0-9_.-]+==\S+", text, re.M)
        assert pinned and len(pinned) == len(_pins(lock)), f"{lock}: a pin without --hash lines"
