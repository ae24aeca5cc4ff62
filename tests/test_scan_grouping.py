"""Service map, test/production split, allowlist, excludes and the configuration that sets them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from id_monitor.scan.config import DEFAULT_EXCLUDE, ScanConfigError, Overrides, load_scan_config
from id_monitor.scan.paths import GlobSet, matches, service_for
from id_monitor.scan.runner import run_scan

SAMPLE = Path(__file__).parent / "data" / "scan" / "sample"


@pytest.mark.parametrize(
    ("rel", "pattern", "expected"),
    [
        ("tests/test_a.py", "tests/", True),
        ("svc/tests/unit/a.py", "tests/", True),
        ("svc/mytests/a.py", "tests/", False),
        ("svc/test_api.py", "test_*.py", True),
        ("svc/api_test.py", "*_test.py", True),
        ("svc/contest.py", "test_*.py", False),
        ("a/conftest.py", "conftest.py", True),
        ("services/billing/x/y.py", "services/billing/**", True),
        ("other/services/billing/y.py", "services/billing/**", False),
        ("svc/ids/generator.py", "svc/ids/generator.py", True),
        ("svc/gen/a.py", "svc/gen/", True),
        ("x/svc/gen/a.py", "svc/gen/", False),
        ("Tests/a.py", "tests/", False),  # case-sensitive on every platform
    ],
)
def test_glob_semantics(rel: str, pattern: str, expected: bool) -> None:
    assert matches(rel, pattern) is expected
    assert GlobSet((pattern,)).match(rel) is expected


def test_default_excludes_prune_virtualenvs_and_caches() -> None:
    excludes = GlobSet(DEFAULT_EXCLUDE)
    assert excludes.match(".venv", is_dir=True)
    assert excludes.match("svc/node_modules", is_dir=True)
    assert excludes.match("id_monitor.egg-info", is_dir=True)
    assert not excludes.match("svc/builder", is_dir=True)


def test_service_map_first_match_then_first_directory() -> None:
    service_map = (("services/billing/**", "billing"), ("services/**", "platform"))
    assert service_for("services/billing/a.py", service_map) == "billing"
    assert service_for("services/chat/a.py", service_map) == "platform"
    assert service_for("api/handlers.py", service_map) == "api"
    assert service_for("setup.py", service_map) == "(root)"


def test_sample_tree_grouping_from_pyproject() -> None:
    config = load_scan_config(SAMPLE)
    assert config.source.endswith("sample/pyproject.toml")
    result = run_scan([SAMPLE], SAMPLE, config, jobs=1)
    services = result.services
    assert set(services) == {"(root)", "api", "background", "billing"}
    api = services["api"]
    assert (api.sites_in("production"), api.sites_in("test")) == (4, 1)
    assert api.by_pattern() == {"str": 2, "hex[:N]": 1, "fstring": 1, "hex": 1}
    assert services["(root)"].sites_in("production") == 1  # manage.py, at the root of the tree
    assert services["background"].files_in("clean") == 1  # workers/** mapped by the config
    billing = services["billing"]
    assert (billing.active, billing.suppressed, billing.allowed) == (1, 1, 1)  # token_hex; ignore; generator
    statuses = {(r.path, r.site.line): r.status for r in result.sites}
    assert statuses[("billing/ids/generator.py", 7)] == "allowed"
    assert statuses[("billing/invoices.py", 10)] == "suppressed"
    assert statuses[("billing/invoices.py", 6)] == "active"
    assert not any(r.path == "billing/invoices.py" and r.site.line == 14 for r in result.sites)  # shadowed


def test_cli_overrides_extend_the_file(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE, tmp_path / "repo")
    config = load_scan_config(tmp_path / "repo", overrides=Overrides(
        extra_targets=("app.ids.make",), services=("api/**=edge",), test_globs=("*_spec.py",),
        allow_globs=("api/legacy.py",), exclude_globs=("generated/",), max_file_bytes=123))
    assert config.targets.names == {"uuid.uuid4", "secrets.token_hex", "app.ids.make"}
    assert config.services[0] == ("api/**", "edge")
    assert config.test_globs == ("*_spec.py",)
    assert config.allow_globs == ("billing/ids/generator.py", "api/legacy.py")
    assert config.exclude_globs[-1] == "generated/" and ".venv/" in config.exclude_globs
    assert config.max_file_bytes == 123


def test_dedicated_config_file_with_top_level_keys(tmp_path: Path) -> None:
    config_file = tmp_path / "scan.toml"
    config_file.write_text('targets = ["secrets.token_hex"]\ntest = ["spec/"]\nexclude = []\n')
    config = load_scan_config(tmp_path, config_file)
    assert config.targets.names == {"secrets.token_hex"}
    assert config.test_globs == ("spec/",)
    assert config.exclude_globs == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tool.id-monitor.scan]\ntargest = []\n", "targest"),
        ("[tool.id-monitor.scan]\ntargets = ['uuid4']\n", "dotted import path"),
        ("[tool.id-monitor.scan]\nmax-file-bytes = 0\n", "max-file-bytes"),
        ("[tool.id-monitor.scan\n", "not valid TOML"),
    ],
)
def test_config_errors_say_where_and_why(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(ScanConfigError, match=message):
        load_scan_config(tmp_path)


def test_bad_service_flag(tmp_path: Path) -> None:
    with pytest.raises(ScanConfigError, match="GLOB=NAME"):
        load_scan_config(tmp_path, overrides=Overrides(services=("billing",)))


def test_excluded_directories_are_not_walked(tmp_path: Path) -> None:
    for rel in (".venv/lib/site.py", "svc/node_modules/x.py", "svc/app.py", "generated/a.py"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("import uuid\nuuid.uuid4()\n")
    config = load_scan_config(tmp_path, overrides=Overrides(exclude_globs=("generated/",)))
    result = run_scan([tmp_path], tmp_path, config, jobs=1)
    assert [f.path for f in result.files] == ["svc/app.py"]
