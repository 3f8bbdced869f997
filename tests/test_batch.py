"""Resumable sharded batch jobs (facevox.batch) and ``facevox emotion --output DIR [--engine ray]``."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from facevox.batch import BatchJobError, plan_shards, run_sharded
from facevox.commands.emotion import command as cli
from facevox.images import find_images
from PIL import Image


def _upper_worker() -> Any:
    calls: list[int] = []

    def work(items: Sequence[str]) -> list[dict[str, Any]]:
        calls.append(len(items))
        return [{"input": x, "upper": x.upper()} for x in items]

    work.calls = calls  # type: ignore[attr-defined]
    return work


def test_shards_are_written_whole_and_a_rerun_only_redoes_missing_ones(tmp_path: Path) -> None:
    items = [f"item{i:03d}" for i in range(23)]
    plan = plan_shards(items, tmp_path / "out", shard_size=10, job="upper")
    assert plan.num_shards == 3 and plan.shard(2) == tuple(items[20:]) and plan.pending() == [0, 1, 2]
    seen: list[int] = []
    assert run_sharded(plan, _upper_worker, batch_size=4, on_shard=lambda k, rows: seen.append(k)) == 3
    assert seen == [0, 1, 2]
    rows = list(plan.read())
    assert [r["input"] for r in rows] == items and rows[5]["upper"] == "ITEM005"
    first = plan.path(1).read_text()
    assert len(first.splitlines()) == 10 and not list((tmp_path / "out").glob("*.tmp*"))
    # everything done: nothing runs
    assert run_sharded(plan, _upper_worker) == 0
    # a lost shard is redone alone, with the same content
    plan.path(1).unlink()
    again = plan_shards(items, tmp_path / "out", shard_size=10, job="upper")
    assert again.pending() == [1]
    assert run_sharded(again, _upper_worker) == 1 and again.path(1).read_text() == first


def test_another_job_in_the_same_folder_is_refused(tmp_path: Path) -> None:
    plan_shards(["a", "b"], tmp_path, shard_size=1, job="model=x")
    with pytest.raises(BatchJobError, match="another job.*shard_size: 1 there, 2 now"):
        plan_shards(["a", "b"], tmp_path, shard_size=2, job="model=x")
    with pytest.raises(BatchJobError, match="inputs_sha256"):
        plan_shards(["a", "c"], tmp_path, shard_size=1, job="model=x")
    with pytest.raises(BatchJobError, match="job: 'model=x' there, 'model=y' now"):
        plan_shards(["a", "b"], tmp_path, shard_size=1, job="model=y")
    with pytest.raises(ValueError, match="shard_size must be >= 1"):
        plan_shards(["a"], tmp_path / "x", shard_size=0)
    with pytest.raises(ValueError, match="at least one input"):
        plan_shards([], tmp_path / "y")
    plan = plan_shards(["a", "b"], tmp_path, shard_size=1, job="model=x")
    with pytest.raises(ValueError, match="unknown engine 'spark'; accepted: local, ray"):
        run_sharded(plan, _upper_worker, "spark")
    with pytest.raises(ValueError, match="1 results for 2 inputs"):
        plan_shards(["a", "b"], tmp_path / "z", shard_size=2).write(0, [{"x": 1}])


def test_find_images_expands_quoted_globs(tmp_path: Path) -> None:
    for rel in ["a/1.png", "a/b/2.jpg", "a/b/notes.txt", "c/3.png"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    found = find_images([str(tmp_path / "a" / "**" / "*")])
    assert found == [tmp_path / "a/1.png", tmp_path / "a/b/2.jpg"]
    assert find_images([str(tmp_path / "*" / "*.png")]) == [tmp_path / "a/1.png", tmp_path / "c/3.png"]
    assert find_images([str(tmp_path / "nothing*.png")]) == []


def _faces(folder: Path, n: int, corrupt: Sequence[int] = ()) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for i in range(n):
        path = folder / f"face{i:04d}.png"
        if i in corrupt:
            path.write_bytes(b"\x89PNG but not really")
        else:
            Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(path)
    return folder


def _results(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for part in sorted(out.glob("part-*.jsonl")) for line in part.read_text().splitlines()]


def test_emotion_output_shards_match_stdout_and_resume(tmp_path: Path) -> None:
    photos = _faces(tmp_path / "faces", 30, corrupt=[7])
    args = [str(photos), "--no-detect", "--tta", "none", "--json"]
    runner = CliRunner()
    direct = runner.invoke(cli, args)
    assert direct.exit_code == 1  # one unreadable file
    expected = [json.loads(line) for line in direct.stdout.splitlines()]
    out = tmp_path / "out"
    first = runner.invoke(cli, [*args, "--output", str(out), "--shard-size", "8"])
    assert first.exit_code == 1 and "4 written now, 0 already done; 1 unreadable" in first.stderr
    assert _results(out) == expected and len(list(out.glob("part-*.jsonl"))) == 4
    assert "error" in _results(out)[7] and all("error" not in r for i, r in enumerate(_results(out)) if i != 7)
    (out / "part-00002.jsonl").unlink()
    again = runner.invoke(cli, [*args, "--output", str(out), "--shard-size", "8"])
    assert again.exit_code == 0 and "1 written now, 3 already done" in again.stderr  # shard 2 has no bad file
    assert _results(out) == expected
    other = runner.invoke(cli, [*args, "--output", str(out), "--shard-size", "5"])
    assert other.exit_code == 1 and "holds the results of another job" in other.stderr
    no_out = runner.invoke(cli, [*args, "--engine", "ray"])
    assert no_out.exit_code == 2 and "--engine ray writes shards: pass --output DIR" in no_out.stderr


@pytest.mark.slow
def test_emotion_on_ray_gives_the_local_results_without_loss_or_duplicates(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    photos = _faces(tmp_path / "faces", 200, corrupt=[13, 150])
    args = [str(photos), "--no-detect", "--tta", "flip", "--json", "--shard-size", "32"]
    runner = CliRunner()
    local = runner.invoke(cli, [*args, "--output", str(tmp_path / "local")])
    assert local.exit_code == 1, local.stderr
    t0 = time.perf_counter()
    on_ray = runner.invoke(cli, [*args, "--output", str(tmp_path / "ray"), "--engine", "ray", "--workers", "2"])
    assert on_ray.exit_code == 1, on_ray.stderr
    assert time.perf_counter() - t0 < 600
    a, b = _results(tmp_path / "local"), _results(tmp_path / "ray")
    assert [r["path"] for r in b] == [str(p) for p in sorted(photos.iterdir())]  # all 200, once, in order
    assert [r["path"] for r in a] == [r["path"] for r in b]
    for x, y in zip(a, b, strict=True):
        assert ("error" in x) == ("error" in y)
        for fx, fy in zip(x["faces"], y["faces"], strict=True):
            assert fx["emotion"] == fy["emotion"]
            assert max(abs(fx["scores"][k] - fy["scores"][k]) for k in fx["scores"]) < 1e-3
    assert sum("error" in r for r in b) == 2


def test_an_unreachable_ray_address_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    photos = _faces(tmp_path / "faces", 3)
    result = CliRunner().invoke(cli, [str(photos), "--no-detect", "--output", str(tmp_path / "o"),
                                      "--engine", "ray", "--ray-address", "127.0.0.1:9"])
    assert result.exit_code == 1
    assert "cannot reach the Ray cluster at '127.0.0.1:9'" in result.stderr and "ray start --head" in result.stderr


def _speak_command():  # type: ignore[no-untyped-def]
    from facevox.commands.speak import command

    return command


def test_speak_batch_writes_a_wav_and_a_row_per_line_and_resumes(tmp_path: Path) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text("Hello there.\n\n" + "x" * 300 + "\nIt costs five dollars.\n")
    out = tmp_path / "spoken"
    runner = CliRunner()
    args = ["--batch", str(lines), "-o", str(out), "--shard-size", "2", "--max-chars", "200"]
    first = runner.invoke(_speak_command(), args)
    assert first.exit_code == 1 and "3 lines in 2 shard(s)" in first.stderr and "1 failed" in first.stderr
    rows = _results(out)
    assert [r["line"] for r in rows] == [1, 3, 4]  # the blank line 2 is not an input
    assert "more than --max-chars 200" in rows[1]["error"] and "path" not in rows[1]
    for row in (rows[0], rows[2]):
        wav = out / row["path"]
        with wav.open("rb") as fh:
            assert fh.read(4) == b"RIFF"
        assert row["duration_s"] > 0.3 and [w["word"] for w in row["words"]][-1] in ("there", "dollars")
        assert row["words"][-1]["end"] <= row["duration_s"]
    again = runner.invoke(_speak_command(), args)
    assert again.exit_code == 0 and "0 written now, 2 already done" in again.stderr
    bad = runner.invoke(_speak_command(), ["--batch", str(lines), "-o", str(tmp_path / "x.wav")])
    assert bad.exit_code == 2 and "-o is a folder, not a WAV file" in bad.stderr
    styled = runner.invoke(_speak_command(), ["--batch", str(lines), "-o", str(out), "--emotion", "sad"])
    assert styled.exit_code == 2 and "cannot be combined with TEXT, --emotion" in styled.stderr


@pytest.mark.slow
def test_speak_batch_on_ray_matches_the_local_engine(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    lines = tmp_path / "lines.txt"
    lines.write_text("Hello there.\nGood night.\nIt is nine thirty.\n")
    runner = CliRunner()
    for engine in ("local", "ray"):
        result = runner.invoke(_speak_command(), ["--batch", str(lines), "-o", str(tmp_path / engine),
                                                  "--engine", engine, "--workers", "2", "--shard-size", "2"])
        assert result.exit_code == 0, result.stderr
    local, ray = _results(tmp_path / "local"), _results(tmp_path / "ray")
    assert [r["line"] for r in ray] == [1, 2, 3]
    assert [(r["text"], r["path"], r["words"]) for r in local] == [(r["text"], r["path"], r["words"]) for r in ray]
