"""The seed corpus and the mutants are found in the checkout first, then in the
package (a wheel's harness/data), and the lookup says which it used."""

from __future__ import annotations

from pathlib import Path

from harness.vocab import resources

REPO = Path(__file__).resolve().parents[2]


def _checkout(root: Path) -> Path:
    (root / "harness").mkdir(parents=True)
    (root / "harness" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text("")
    return root


def test_this_checkout_is_found_first() -> None:
    seeds, mutants = resources.seeds(), resources.mutants()
    assert seeds is not None and mutants is not None
    assert (seeds.path, seeds.origin) == (REPO / "corpus" / "seeds", "checkout")
    assert (mutants.path, mutants.origin) == (REPO / "bench" / "mutants", "checkout")
    assert seeds.describe() == f"the checkout's seeds ({REPO / 'corpus' / 'seeds'})"
    assert resources.describe(REPO / "corpus" / "seeds") == seeds.describe()
    assert resources.describe(Path("/elsewhere")) == "/elsewhere"


def test_the_package_data_when_there_is_no_checkout(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"  # no pyproject.toml beside the package
    packaged = site / "harness" / "data"
    (packaged / "seeds").mkdir(parents=True)
    (packaged / "seeds" / "001-x.wsa").write_text("t0: startup 2.2\n")
    found = resources.find("seeds", checkout=site, packaged=packaged)
    assert found == resources.Resource("seeds", packaged / "seeds", "package")
    assert found.describe() == f"the packaged seeds ({packaged / 'seeds'})"
    assert resources.find("mutants", checkout=site, packaged=packaged) is None


def test_a_checkout_without_the_files_falls_back_on_the_package(tmp_path: Path) -> None:
    root = _checkout(tmp_path / "src")
    (root / "bench" / "mutants").mkdir(parents=True)  # empty: no *.patch
    packaged = tmp_path / "data"
    (packaged / "mutants").mkdir(parents=True)
    (packaged / "mutants" / "01-x.patch").write_text("")
    found = resources.find("mutants", checkout=root, packaged=packaged)
    assert found is not None and found.origin == "package"
    (root / "bench" / "mutants" / "01-x.patch").write_text("")
    found = resources.find("mutants", checkout=root, packaged=packaged)
    assert found is not None and (found.path, found.origin) == (root / "bench/mutants", "checkout")
