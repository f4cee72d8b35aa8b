"""scripts/device_train_reader.sh: the parts a device call sends back are joined; a missing preparation and an
unknown step are clear errors; the train step refuses to run outside the device machine (no OUT)."""
from __future__ import annotations

import os
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "device_train_reader.sh"
FILES = ("config.json", "tokenizer.json", "normalisation.json", "training.json", "training-log.jsonl")


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "OUT"}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env={**environment, **env})


def test_unpack_joins_the_weights_parts_and_copies_the_rest(tmp_path):
    sent = tmp_path / "files"
    sent.mkdir()
    (sent / "model.safetensors.part-aa").write_bytes(b"first-")
    (sent / "model.safetensors.part-ab").write_bytes(b"second")
    for name in FILES:
        (sent / name).write_text(name)
    done = run("unpack", str(sent), str(tmp_path / "reader"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "reader" / "model.safetensors").read_bytes() == b"first-second"
    assert all((tmp_path / "reader" / name).read_text() == name for name in FILES)


def test_pack_without_prepared_data_says_how_to_prepare(tmp_path):
    done = run("pack", WORK=str(tmp_path / "nothing"))
    assert done.returncode == 1
    assert "python scripts/train_reader.py prepare --work" in done.stderr and "--init e5" in done.stderr


def test_unpack_of_a_folder_without_the_parts_says_what_to_give(tmp_path):
    done = run("unpack", str(tmp_path), str(tmp_path / "reader"))
    assert done.returncode == 1 and "files_at" in done.stderr and not (tmp_path / "reader").exists()


def test_unknown_step_and_train_outside_the_device_are_refused():
    assert run("bogus").returncode == 2
    done = run("train")
    assert done.returncode != 0 and "OUT" in done.stderr
