"""Rebuild colab/constraints-*.txt from Colab's published package lists.

    python colab/update.py [SOURCE]
    python colab/update.py --conflicts NAME==VERSION ...


SOURCE is a copy of googlecolab/backend-info: a folder holding its pip-freeze*.txt and os-info*.txt
(and a SOURCE file naming the commit, as ../shared/colab-backend-info has), or a git repository of
it (what `fetch github:googlecolab/backend-info` brings), whose HEAD is read. Default:
../shared/colab-backend-info. CI never runs this: it reads the committed files.

`--conflicts` asks PyPI which packages of each image declare a requirement that the given
replacements (what installing tfcook replaces, tfcook.notebook.REPLACES) would break: pip does not
check installed packages that the install doesn't touch, so this is the check for them.

Each constraint file pins every package of one runtime image that pip can install by name and
version, the whole image and not only the ML stack (the packages pip replaces are often outside
it), and says in its header where and when the list comes from. The CPU and GPU runtimes share
one file: the GPU image is the CPU image plus CUDA packages, which the header lists.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parent.parent / "shared" / "colab-backend-info"
# image -> (freeze file, os-info file)
IMAGES = {
    "cpu-gpu": ("pip-freeze.txt", "os-info.txt"),
    "tpu": ("pip-freeze.tpu.txt", "os-info-tpu.txt"),
}
TITLES = {"cpu-gpu": "CPU and GPU runtime images", "tpu": "TPU runtime image"}
GPU_FREEZE = "pip-freeze.gpu.txt"
PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")
BY_URL = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*) @ (\S+)$")


def normal(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_source(source: Path) -> tuple[dict[str, str], str]:
    """The backend-info files by name, and the line naming their commit and date."""
    names = {f for pair in IMAGES.values() for f in pair} | {GPU_FREEZE}
    if (source / "HEAD").exists() or (source / ".git").exists():
        git = ["git", f"--git-dir={source / '.git' if (source / '.git').exists() else source}"]
        files = {n: subprocess.run([*git, "show", f"HEAD:{n}"], capture_output=True, text=True,
                                   check=True).stdout for n in names}
        stamp = subprocess.run([*git, "log", "-1", "--format=%H %ad %s", "--date=short"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return files, stamp
    files = {n: (source / n).read_text() for n in names}
    return files, (source / "SOURCE").read_text().strip()


def parse_freeze(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """(name -> version) for `name==version` lines, (name -> URL) for `name @ URL` lines."""
    pinned, by_url = {}, {}
    for line in text.splitlines():
        line = line.strip()
        if (match := PINNED.match(line)):
            pinned[match[1]] = match[2]
        elif (match := BY_URL.match(line)):
            by_url[match[1]] = match[2]
    return pinned, by_url


def python_version(os_info: str) -> str:
    match = re.search(r"^Python (\d+\.\d+)\.\d+", os_info, re.M)
    if not match:
        raise SystemExit("no 'Python X.Y.Z' line in the os-info file")
    return match[1]


def gpu_difference(cpu: dict[str, str], gpu: dict[str, str]) -> tuple[list[str], list[str]]:
    """Packages only the GPU image has, and those both have in different versions."""
    cpu_n = {normal(k): (k, v) for k, v in cpu.items()}
    gpu_n = {normal(k): (k, v) for k, v in gpu.items()}
    extra = sorted(gpu_n[n][0] for n in gpu_n.keys() - cpu_n.keys())
    differ = sorted(f"{cpu_n[n][0]} {cpu_n[n][1]} (GPU: {gpu_n[n][1]})"
                    for n in gpu_n.keys() & cpu_n.keys() if cpu_n[n][1] != gpu_n[n][1])
    return extra, differ


def render(image: str, files: dict[str, str], stamp: str) -> str:
    freeze, os_info = IMAGES[image]
    pinned, by_url = parse_freeze(files[freeze])
    commit, date, subject = (stamp.split(" ", 2) + ["", ""])[:3]
    lines = [
        f"# Colab's {TITLES[image]}, package for package.",
        f"# source: googlecolab/backend-info {freeze} at {commit}",
        f"# date: {date} ({subject})",
        f"# python: {python_version(files[os_info])}",
        "# Rebuilt by `python colab/update.py` from a fresh copy of backend-info; never edited.",
    ]
    if image == "cpu-gpu":
        extra, differ = gpu_difference(pinned, parse_freeze(files[GPU_FREEZE])[0])
        lines.append(f"# The GPU image ({GPU_FREEZE}) adds {len(extra)} CUDA packages "
                     f"({', '.join(extra[:6])}, ...) and differs in: {', '.join(differ) or 'nothing else'}.")
    if by_url:
        lines.append("# Installed from URLs, not PyPI, so not pinned here: "
                     + ", ".join(f"{name} ({url.split(':', 1)[0]})" for name, url in sorted(by_url.items())))
    lines += [f"{name}=={version}" for name, version in sorted(pinned.items(), key=lambda kv: normal(kv[0]))]
    return "\n".join(lines) + "\n"


def requires(name: str, version: str) -> list[str] | None:
    """A release's declared requirements, from the metadata file PyPI keeps beside each wheel
    (None when the release has no wheel there, so nothing was checked)."""
    import json
    import urllib.request

    def get(url: str, **headers: str) -> bytes:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as response:
            return response.read()

    try:
        index = json.loads(get(f"https://pypi.org/simple/{normal(name)}/",
                               Accept="application/vnd.pypi.simple.v1+json"))
    except OSError:
        return None
    stem = f"{re.sub(r'[-_.]+', '_', name)}-{version}-".lower()
    wheels = [f["url"] for f in index["files"] if f["filename"].lower().startswith(stem)
              and f["filename"].endswith(".whl")]
    for url in wheels[:3]:
        try:
            meta = get(url + ".metadata").decode()
        except OSError:  # older uploads have no metadata file: read it out of the wheel itself
            try:
                meta = wheel_metadata(url)
            except (OSError, KeyError, zipfile.BadZipFile):
                continue
        return [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    return None


class RemoteFile(io.RawIOBase):
    """A file on a server that answers HTTP range requests, read lazily (a wheel is a zip file, and
    zipfile reads only its directory at the end and the members asked for)."""

    def __init__(self, url: str):
        import urllib.request

        self.url, self.position, self.request = url, 0, urllib.request
        with self.request.urlopen(self.request.Request(url, method="HEAD"), timeout=60) as response:
            self.size = int(response.headers["Content-Length"])

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = (0, self.position, self.size)[whence] + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer) -> int:
        end = min(self.position + len(buffer), self.size) - 1
        if end < self.position:
            return 0
        headers = {"Range": f"bytes={self.position}-{end}"}
        with self.request.urlopen(self.request.Request(self.url, headers=headers), timeout=60) as response:
            data = response.read()
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)


def wheel_metadata(url: str) -> str:
    with zipfile.ZipFile(io.BufferedReader(RemoteFile(url), buffer_size=1 << 16)) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return archive.read(name).decode()


def conflicts(image: str, replaced: dict[str, str]) -> tuple[list[str], list[str]]:
    """The image's packages whose requirements exclude a replaced package's new version, and those
    whose requirements could not be read."""
    from concurrent.futures import ThreadPoolExecutor

    from packaging.requirements import Requirement

    text = (HERE / f"constraints-{image}.txt").read_text()
    python = re.search(r"^# python: (\S+)", text, re.M)[1]
    pinned = dict(line.split("==", 1) for line in text.splitlines() if "==" in line)
    wanted = {normal(n): v for n, v in replaced.items()}
    found, unchecked = [], []
    with ThreadPoolExecutor(16) as pool:
        for (name, version), reqs in zip(pinned.items(), pool.map(lambda kv: requires(*kv), pinned.items())):
            if reqs is None:
                unchecked.append(name)
            for line in reqs or []:
                req = Requirement(line)
                env = {"python_version": python, "python_full_version": python + ".0", "extra": ""}
                if normal(req.name) in wanted and (not req.marker or req.marker.evaluate(env)):
                    if not req.specifier.contains(wanted[normal(req.name)], prereleases=True):
                        found.append(f"{name} {version} requires {line}")
    return found, unchecked


def main(argv: list[str]) -> int:
    if argv[:1] == ["--conflicts"]:
        replaced = dict(arg.split("==", 1) for arg in argv[1:])
        for image in IMAGES:
            found, unchecked = conflicts(image, replaced)
            print(f"{image}: " + ("; ".join(found) if found else "no package requires otherwise")
                  + f" ({len(unchecked)} without a wheel on PyPI not checked: {', '.join(unchecked)})")
        return 0
    source = Path(argv[0]) if argv else DEFAULT_SOURCE
    files, stamp = read_source(source)
    for image in IMAGES:
        target = HERE / f"constraints-{image}.txt"
        text = render(image, files, stamp)
        changed = not target.exists() or target.read_text() != text
        target.write_text(text)
        print(f"{target.relative_to(HERE.parent)}: {text.count(chr(10)) - text.count('# ')} packages"
              f"{' (changed)' if changed else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
