"""The README's code blocks run as they are written, so the README stays true to the code.

Each block runs in a folder of its own laid out like the checkout it assumes (``src`` beside
it, the shared data at ``../shared/data``), with the files it expects a user to have (weights
of one's own, two patients' volumes) made up first.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lwnet.cli import build_parser
from lwnet.training.config import load_config

from _killable import SRC, env

README = Path(__file__).resolve().parents[1] / "README.md"


def _block(language: str, containing: str) -> str:
    """The README's ``language`` code block that holds ``containing``."""
    blocks = re.findall(rf"```{language}\n(.*?)```", README.read_text(), re.S)
    (block,) = [b for b in blocks if containing in b]
    return block


def _checkout(tmp_path: Path) -> Path:
    """A folder where the README's relative paths (``src/lwnet/...``) resolve."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "src").symlink_to(SRC)
    return work


def _run(argv: list[str], cwd: Path) -> str:
    """Run ``argv`` in ``cwd`` as a user would (this checkout's sources); its stdout."""
    done = subprocess.run(argv, cwd=cwd, env=env(), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_quick_start_commands(tmp_path: Path) -> None:
    block = _block("bash", "lwnet fuse --list-methods")
    # the block's `source .venv/bin/activate` puts lwnet on PATH; here the test's Python has it
    script = block.replace("source .venv/bin/activate",
                           f'lwnet() {{ "{sys.executable}" -m lwnet "$@"; }}')
    work = _checkout(tmp_path)
    _run(["bash", "-euo", "pipefail", "-c", script], work)
    for name in ("fused.png", "fused-ct.png", "fused-gff.png"):
        assert (work / name).is_file(), name


def test_quick_start_python(tmp_path: Path) -> None:
    nib = pytest.importorskip("nibabel")
    work = _checkout(tmp_path)
    (work / "fused.png").write_bytes(b"")  # what the bash block before it wrote
    (work / "quick_start.py").write_text(_block("python", "import lwnet"))
    _run([sys.executable, "quick_start.py"], work)
    assert (work / "fused-api.png").is_file()
    assert sorted(p.name for p in (work / "out").iterdir()) == ["gff", "lwnet"]
    # what the next block assumes a user has: weights of their own and two patients' volumes
    (work / "runs" / "mine").mkdir(parents=True)
    shutil.copy(Path(SRC) / "lwnet" / "weights" / "spect-mri.safetensors",
                work / "runs" / "mine" / "weights.safetensors")
    rng = np.random.default_rng(0)
    for patient in ("p01", "p02"):
        (work / patient).mkdir()
        for name in ("mri", "pet"):
            volume = rng.random((24, 24, 3)).astype(np.float32)
            nib.save(nib.Nifti1Image(volume, np.eye(4)), work / patient / f"{name}.nii.gz")
    (work / "own_files.py").write_text(_block("python", "from lwnet.inference import VolumeOpt"))
    _run([sys.executable, "own_files.py"], work)
    assert (work / "out-mine" / "mine" / "SPECT-MRI" / "9028.png").is_file()
    for patient in ("p01", "p02"):
        assert (work / patient / "fused.nii.gz").is_file()


@pytest.mark.shared_data
def test_comparing_your_own_method(shared_data: Path, tmp_path: Path) -> None:
    work = _checkout(tmp_path)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "data").symlink_to(shared_data)  # the block reads ../shared/data
    (work / "mine.py").write_text(_block("python", "def mine("))
    table = _run([sys.executable, "mine.py"], work)
    assert "| mine |" in table and "| GFF |" in table


def _lwnet_commands(text: str) -> list[list[str]]:
    """The arguments of every ``lwnet`` command in the bash blocks of ``text`` (continued
    lines joined, comments and shell variables left out)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"(^|\s)#.*", "", line)
            for part in re.split(r"&&|;|\|\||&|\|", line):
                words = shlex.split(re.sub(r"\$\{?\w+\}?", "X", part))
                if "lwnet" in words and words[0] in ("lwnet", "torchrun", "python", "X"):
                    commands.append(words[words.index("lwnet") + 1:])
    return commands


def test_every_lwnet_command_of_the_readme_parses() -> None:
    # The heavy ones (training, the full benchmark) do not run here; their options must exist.
    commands = _lwnet_commands(README.read_text())
    assert len(commands) > 20
    parser = build_parser()
    for args in commands:
        try:
            parsed = parser.parse_args(args)
        except SystemExit:
            pytest.fail(f"the README's `lwnet {' '.join(args)}` does not parse")
        if parsed.command == "train" and not parsed.resume:  # and its config is valid
            config = README.parent / parsed.config if parsed.config else None
            load_config(config, parsed.preset, parsed.overrides)
