"""Where the shipped data files are: the seed programs and the benchmark's mutants.

One source of truth: a checkout keeps them at ``corpus/seeds`` and
``bench/mutants``.  A wheel has no checkout, so the build (``setup.py``'s
``build_py``) copies them into the package as ``harness/data/seeds`` and
``harness/data/mutants``; nothing under ``harness/data`` is committed.  The
checkout is looked at first, so a developer's edits to a seed take effect
without a reinstall; an installed wsa-harness falls back on its own copies.
Each lookup says which one it found (:attr:`Resource.origin`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
#: the checkout that holds this package, when it is one (``pyproject.toml`` beside it)
CHECKOUT = PACKAGE.parent
PACKAGED = PACKAGE / "data"
#: name -> (folder in a checkout, folder in the package, the files it holds)
LOCATIONS: dict[str, tuple[str, str, str]] = {
    "seeds": ("corpus/seeds", "seeds", "*.wsa"),
    "mutants": ("bench/mutants", "mutants", "*.patch"),
}


@dataclass(frozen=True)
class Resource:
    name: str
    path: Path
    #: ``checkout`` (this source tree's folder) or ``package`` (the installed copy)
    origin: str

    def describe(self) -> str:
        """``the packaged seeds (PATH)`` or ``the checkout's seeds (PATH)``."""
        where = "the packaged" if self.origin == "package" else "the checkout's"
        return f"{where} {self.name} ({self.path})"


def is_checkout(root: Path = CHECKOUT) -> bool:
    return (root / "pyproject.toml").is_file() and (root / "harness" / "__init__.py").is_file()


def find(name: str, checkout: Path = CHECKOUT, packaged: Path = PACKAGED) -> Resource | None:
    """The ``seeds`` or ``mutants`` folder: the checkout's, else the package's, else None."""
    in_checkout, in_package, pattern = LOCATIONS[name]
    candidates = []
    if is_checkout(checkout):
        candidates.append((checkout / in_checkout, "checkout"))
    candidates.append((packaged / in_package, "package"))
    for path, origin in candidates:
        if path.is_dir() and any(path.glob(pattern)):
            return Resource(name, path, origin)
    return None


def seeds() -> Resource | None:
    """The seed programs (``*.wsa``) a campaign starts from."""
    return find("seeds")


def mutants() -> Resource | None:
    """The benchmark's hand-written mutants (``*.patch``)."""
    return find("mutants")


def describe(path: Path) -> str:
    """A folder as :meth:`Resource.describe` names it, when it is one of them."""
    for name in LOCATIONS:
        found = find(name)
        if found is not None and found.path == Path(path).resolve():
            return found.describe()
    return str(path)
