"""Deploy figures: image build time (cold and warm), image size, chart render and validate times.

    .venv/bin/python bench/deploy.py            # warm image build (cached base and layers)
    .venv/bin/python bench/deploy.py --cold     # first drop the cached base and the image's layers
    .venv/bin/python bench/deploy.py --chart    # chart render/validate only (needs helm)

Cold is what a CI run on a fresh machine pays: debootstrap of the base, the wheels, the image.
The image size is printed against the base's, so the agent's own share is visible. Render and
validate times are per ci/*-values.yaml, as ratios against `helm template` of the defaults.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.deploy_tools import CHART, CI_VALUES, helm_binary, load_validator

IMAGE = os.environ.get("IMAGE", "localhost/id-monitor:bench")
ENV = {**os.environ, "IMAGE": IMAGE, "CONTAINERS_CONF": str(ROOT / "deploy" / "image" / "containers.conf")}


def podman(*args: str) -> str:
    return subprocess.run(["podman", *args], capture_output=True, text=True, env=ENV, check=False).stdout


def drop_image_caches() -> None:
    """Remove the base tarball, the base image, and every id-monitor image and build layer."""
    for tarball in (ROOT / ".cache" / "image").glob("base-*.tar"):
        tarball.unlink()
    names = [line for line in podman("images", "--format", "{{.Repository}}:{{.Tag}}").splitlines()
             if "id-monitor" in line]
    if names:
        podman("rmi", "--force", *names)
    podman("image", "prune", "--force")


def timed(command: list[str]) -> float:
    started = time.monotonic()
    subprocess.run(command, check=True, env=ENV, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def bench_image(cold: bool) -> None:
    if cold:
        drop_image_caches()
    took = timed([str(ROOT / "scripts" / "image"), "build"])
    size = int(podman("image", "inspect", "--format", "{{.Size}}", IMAGE).strip())
    base_name = subprocess.run([str(ROOT / "scripts" / "image"), "base"], capture_output=True, text=True,
                               env=ENV, check=True).stdout.strip()
    base = int(podman("image", "inspect", "--format", "{{.Size}}", base_name).strip())
    print(f"image build ({'cold' if cold else 'warm'}):  {took:6.1f} s")
    print(f"image size:           {size / 1e6:6.1f} MB (base {base / 1e6:.1f} MB + agent {(size - base) / 1e6:.1f} MB)")


def bench_chart() -> None:
    helm = helm_binary()
    validate = load_validator()
    validator = validate.Validator("1.33")

    def render(values: Path | None) -> tuple[str, float]:
        args = [helm, "template", "r", str(CHART), "--kube-version", "1.33"]
        if values:
            args += ["-f", str(values)]
        started = time.monotonic()
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
        return out, time.monotonic() - started

    render(None)  # warm the page cache
    _, floor = render(None)
    print(f"helm template defaults: {floor * 1000:6.0f} ms (floor)")
    for values in CI_VALUES:
        text, took = render(values)
        started = time.monotonic()
        count, problems = validator.check_text(text, values.name)
        checked = time.monotonic() - started
        assert not problems, problems
        print(f"  {values.name:28s} render {took * 1000:5.0f} ms ({took / floor:4.2f}x)  "
              f"validate {count} objects {checked * 1000:5.0f} ms ({checked / floor:4.2f}x)")
    started = time.monotonic()
    subprocess.run([helm, "lint", "--strict", str(CHART)], capture_output=True, check=True)
    print(f"helm lint --strict:     {(time.monotonic() - started) * 1000:6.0f} ms")


def main(argv: list[str]) -> int:
    if "-h" in argv or "--help" in argv:
        print(__doc__.strip())
        return 0
    if "--chart" not in argv:
        bench_image(cold="--cold" in argv)
    bench_chart()
    print(json.dumps({"image": IMAGE}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
