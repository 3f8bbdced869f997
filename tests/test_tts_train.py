"""``facevox train tts`` on the Lightning engine: a run that learns, resumes and exports; the curriculum sampler."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import facevox
import pytest
import torch
from click.testing import CliRunner
from facevox_tts.tacotron import Tacotron, TacotronConfig
from facevox_tts.text import SYMBOLS, EnglishCharacters
from tts_corpus import write_corpus

pytestmark = pytest.mark.usefixtures("one_thread")

# "a cat." / "a cab." as the teacher phonemises them (frames per phoneme): every utterance has a path.
_TSVS = ["^\t2\nə\t5\n \t1\nk\t4\næ\t5\nt\t5\n.\t4\n$\t3\n", "^\t2\nə\t6\n \t1\nk\t4\næ\t6\nb\t6\n.\t4\n$\t3\n"]
_PLOT = Path(__file__).parents[1] / "benchmarks" / "plot_tts_training.py"


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def _plot_script():  # noqa: ANN202 - a module loaded from a file
    spec = importlib.util.spec_from_file_location("plot_tts_training", _PLOT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_command_learns_resumes_and_exports(tmp_path: Path) -> None:
    from facevox_tts.train import export_weights, train_command

    data = write_corpus(tmp_path / "corpus", ["a cat.", "a cab.", "a cat."], [0.5, 0.5, 0.45], [*_TSVS, _TSVS[0]])
    out = tmp_path / "run"
    args = ["--data", str(data), "--out", str(out), "--val-count", "1", "--eval-every", "3", "--batch-size", "2",
            "--accelerator", "cpu", "--precision", "32"]
    result = CliRunner().invoke(train_command, [*args, "--steps", "3"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert (out / "checkpoints" / "last.ckpt").is_file() and (out / "align_000003.png").is_file()
    assert len(list((out / "mels").glob("*.npy"))) == 3 and len((out / "val_ids.txt").read_text().split()) == 1
    result = CliRunner().invoke(train_command, [*args, "--steps", "6", "--resume", "--lr-decay", "3:5e-4"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "resumed" in result.output and "at step 3" in result.output
    state = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    assert state["global_step"] == 6 and state["facevox"]["arch"] == "tacotron"
    assert state["optimizer_states"][0]["param_groups"][0]["lr"] == pytest.approx(5e-4)  # the decayed rate
    records = _records(out)
    validated = {r["step"]: r for r in records if "val_postnet" in r}
    assert sorted(validated) == [3, 6]  # every --eval-every steps and at the last step, counted across the resume
    first, last = validated[3], validated[6]
    assert last["val_total"] < first["val_total"] - 0.1 and last["val_attention"] < first["val_attention"]
    assert 0.0 <= last["val_diagonal"] <= 1.0 and 0.0 < last["val_focus"] <= 1.0
    trained = {r["step"]: r for r in records if "postnet" in r}
    assert trained[3]["lr"] == pytest.approx(1e-3) and trained[6]["lr"] == pytest.approx(5e-4)

    plot = _plot_script()  # the benchmark's plot script reads what the recipe writes
    curves = plot.read_validation(out / "metrics.jsonl")
    assert {"val_mel", "val_postnet", "val_focus", "val_diagonal"} <= set(curves)
    assert [s for s, _ in curves["val_postnet"]] == [3, 6]
    plot.main([str(out / "metrics.jsonl"), "-o", str(tmp_path / "curves.png")])
    assert (tmp_path / "curves.png").stat().st_size > 1000

    best = facevox.load_pretrained(out / "best")  # the best weights as a save_pretrained folder
    assert isinstance(best, Tacotron) and best.config == TacotronConfig(n_symbols=len(SYMBOLS))
    tokens, lengths = EnglishCharacters()(["a cat."])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an untrained decoder reaches its step cap
        mel = best.infer(tokens, lengths, max_decoder_steps=8)
        waveform, samples = facevox.create_model("griffinlim.default")(mel.mel, mel.mel_lengths)
    frames = int(mel.mel_lengths[0])
    assert mel.mel.shape == (1, 80, frames) and 0 < frames <= 8 * 4 and torch.isfinite(mel.mel).all()
    assert int(samples[0]) == frames * 256 and float(waveform.abs().max()) > 0
    model = Tacotron(TacotronConfig(n_symbols=len(SYMBOLS)))
    facevox.load_weights(model, export_weights(out / "checkpoints" / "last.ckpt", tmp_path / "w.safetensors"))
    facevox.load_weights(model, export_weights(out / "best", tmp_path / "best.safetensors"))

    bad = CliRunner().invoke(train_command, [*args, "--steps", "7", "--resume", "--lr-decay", "2=1e-5"])
    assert bad.exit_code == 2 and "--lr-decay" in bad.output and "step:value" in bad.output
    bad = CliRunner().invoke(train_command, [*args, "--curriculum", "100:350"])
    assert bad.exit_code == 2 and "step 0" in bad.output


@pytest.mark.slow
def test_two_processes_train_in_step(tmp_path: Path) -> None:
    """``--devices 2 --strategy ddp`` (gloo): the processes share the batches and end with identical weights."""
    from facevox.training import state_digest

    data = write_corpus(tmp_path / "corpus", ["a cat.", "a cab."] * 3, [0.5] * 6, _TSVS * 3)
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("LOCAL_RANK", None)  # Lightning's launcher starts rank 1 by re-running the command
    done = subprocess.run([sys.executable, "-m", "facevox.cli", "train", "tts", "--data", str(data), "--out", str(out),
                           "--steps", "4", "--val-count", "1", "--batch-size", "1", "--eval-every", "2", "--devices", "2",
                           "--accelerator", "cpu", "--strategy", "ddp", "--precision", "32"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    digests = {(out / f"rank{r}.sha256").read_text().strip() for r in (0, 1)}
    checkpoint = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert digests == {state_digest(checkpoint["state_dict"])} and checkpoint["global_step"] == 4
    assert [r["step"] for r in _records(out) if "val_postnet" in r] == [2, 4]
    assert isinstance(facevox.load_pretrained(out / "best"), Tacotron)


def test_runs_before_lightning_restart_and_still_export(tmp_path: Path) -> None:
    """An ``OUT/last.pt`` of the old loop cannot be resumed (the message says so); its weights still export."""
    import click
    from facevox import config_to_dict
    from facevox_tts.train import export_weights, train_command

    data = write_corpus(tmp_path / "corpus", ["a cat.", "a cab."], [0.3, 0.3])
    out = tmp_path / "old"
    out.mkdir()
    config = TacotronConfig(n_symbols=len(SYMBOLS), embedding_dim=16, encoder_dim=16, attention_rnn_dim=16,
                            attention_dim=8, location_filters=4, decoder_rnn_dim=16, prenet_dim=8, postnet_channels=8,
                            postnet_layers=2)
    old = Tacotron(config)
    torch.save({"model": old.state_dict(), "optim": {}, "step": 7, "arch": "tacotron",
                "config": json.dumps(config_to_dict(config)), "extra": "{}"}, out / "last.pt")
    result = CliRunner().invoke(train_command, ["--data", str(data), "--out", str(out), "--resume"])
    assert result.exit_code == 1 and "before facevox moved to Lightning" in result.output
    assert "start a new run" in result.output
    model = Tacotron(config)
    facevox.load_weights(model, export_weights(out / "last.pt", tmp_path / "w.safetensors", dtype=None))
    for name, tensor in old.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], tensor, rtol=0, atol=0)
    torch.save({"something": torch.zeros(1)}, tmp_path / "junk.ckpt")
    with pytest.raises(click.UsageError, match="not a checkpoint of `facevox train tts`"):
        export_weights(tmp_path / "junk.ckpt", tmp_path / "x.safetensors")


def test_curriculum_batches_grow_with_the_step_and_shard_evenly() -> None:
    from facevox_tts.lit_tacotron import CurriculumBatches

    lengths = [10, 20, 30, 40, 50, 60, 70, 80]
    step = [0]
    ranks = [CurriculumBatches(lengths, 1000, 2, [(0, 35), (5, 100)], 3, lambda: step[0], rank, 2) for rank in (0, 1)]
    early = [list(r) for r in ranks]
    assert all(len(b) == 1 for b in early)  # 3 short items -> 2 batches, one per process
    assert sorted(i for b in early for batch in b for i in batch) == [0, 1, 2]  # the long ones wait
    assert [list(r) for r in ranks] == early  # the same step shuffles alike
    step[0] = 5
    late = [list(r) for r in ranks]
    assert all(len(b) == 2 for b in late) and len(ranks[0]) == 2  # len(): the whole corpus, per process
    assert sorted(i for b in late for batch in b for i in batch) == list(range(8))  # disjoint and complete
    with pytest.raises(ValueError, match="--curriculum"):
        CurriculumBatches(lengths, 1000, 2, [(0, 5)], 0, lambda: 0).batches_at(0)


def test_the_prior_is_annealed_away() -> None:
    from facevox_tts.lit_tacotron import TacotronModule

    module = TacotronModule(Tacotron(TacotronConfig(n_symbols=len(SYMBOLS))), [], Path("."), Path("."), val_count=1,
                            batch_size=1, batch_frames=100, lr=1e-3, lr_schedule=[(10, 1e-4)], attention_weight=1.0,
                            prior_steps=100, curriculum=[(0, 100)], seed=0)
    used = [module.uses_prior(s) for s in range(200)]
    assert all(used[:2]) and not any(used[100:])
    assert 30 < sum(used[:100]) < 70  # probability 1 - step / prior_steps
    assert used == [module.uses_prior(s) for s in range(200)]  # a function of (seed, step): a resumed run agrees
    assert [module.rate(s) for s in (0, 9, 10, 50)] == [1e-3, 1e-3, 1e-4, 1e-4]


def test_schedules_parse_and_step() -> None:
    import click
    from facevox_tts.train import parse_schedule, value_at

    lr = parse_schedule("6500:2.5e-4, 4300:5e-4", float, "--lr-decay")
    assert lr == [(4300, 5e-4), (6500, 2.5e-4)]
    assert [value_at(lr, s, 1e-3) for s in (0, 4299, 4300, 6499, 6500, 10**6)] == [1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4]
    assert parse_schedule("", float, "--lr-decay") == []
    for text in ("0:350,0:400", "-1:350", "0:abc", "350"):
        with pytest.raises(click.BadParameter, match="--curriculum|step"):
            parse_schedule(text, int, "--curriculum")
