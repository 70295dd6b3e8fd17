import json

import pytest

from ltlib.config import RunConfig
from ltlib.errors import ConfigError
from ltlib.params import check_param_file
from ltlib.schedules import lr_at
from ltlib.train import fit


def test_unknown_key_names_closest():
    with pytest.raises(ConfigError, match="did you mean 'epochs'"):
        RunConfig.from_dict({"epoch": 3})


@pytest.mark.parametrize("bad,msg", [({"epochs": 0}, "epochs must be"), ({"lr": -1.0}, "lr must be"),
                                     ({"batch_size": 0}, "batch_size"), ({"imbalance_ratio": 0.5}, "imbalance_ratio"),
                                     ({"epochs": "ten"}, "integer"), ({"sampler": "cbb"}, "did you mean 'cb'"),
                                     ({"loss": "focall"}, "focal"), ({"arch": "resnet33"}, "resnet32")])
def test_bad_values(bad, msg):
    with pytest.raises(ConfigError, match=msg):
        RunConfig.from_dict(bad)


def test_hash_ignores_paths_and_tag():
    a = RunConfig(data_root="/x", tag="a")
    b = RunConfig(data_root="/y", tag="b")
    assert a.run_id() == b.run_id() != RunConfig(seed=1).run_id()
    assert RunConfig(dataset="/a/tinyset").run_id() == RunConfig(dataset="/b/tinyset/").run_id()


def test_param_file_errors(tmp_path):
    f = tmp_path / "00_data_and_samplers.yaml"
    f.write_text("epochs: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        check_param_file(f)
    f.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        check_param_file(f)
    f.write_text("epochz: 2\n")
    with pytest.raises(ConfigError, match="did you mean 'epochs'"):
        check_param_file(f)
    f.write_text("epochs: 2.5\n")
    with pytest.raises(ConfigError, match="integer"):
        check_param_file(f)
    f.write_text("imbalance_ratio: 0.1\n")
    with pytest.raises(ConfigError, match="imbalance_ratio must be"):
        check_param_file(f)


def test_lr_schedule():
    cfg = RunConfig(lr=0.1, epochs=200, warmup_epochs=5, milestones=[160, 180], gamma=0.01)
    assert lr_at(cfg, 0) == pytest.approx(0.02) and lr_at(cfg, 4) == pytest.approx(0.1)
    assert lr_at(cfg, 159) == pytest.approx(0.1) and lr_at(cfg, 160) == pytest.approx(1e-3)
    assert lr_at(cfg, 199) == pytest.approx(1e-5)


def test_run_writes_everything_and_is_reused(tiny_cfg, tmp_path):
    run = fit(tiny_cfg, runs_dir=tmp_path, progress="none")
    for f in ("config.json", "meta.json", "history.csv", "metrics.json", "last.pt", "indices.npz", "events.npz"):
        assert (run.path / f).exists(), f
    m = run.metrics
    assert set(m["last"]["test"]) >= {"acc", "many", "medium", "few", "head", "mid", "tail", "per_class"}
    assert len(run.history) == 3 and run.meta["versions"]["torch"]
    mtime = (run.path / "metrics.json").stat().st_mtime
    again = fit(tiny_cfg, runs_dir=tmp_path, progress="none")
    assert again.path == run.path and (run.path / "metrics.json").stat().st_mtime == mtime
    assert (tmp_path / "results.csv").exists()


def test_resume_gives_identical_metrics(tiny_cfg, tmp_path):
    full = fit(tiny_cfg, runs_dir=tmp_path / "a", progress="none", deterministic=True)
    part = fit(tiny_cfg, runs_dir=tmp_path / "b", progress="none", deterministic=True, stop_after_epochs=1)
    assert not part.finished
    done = fit(tiny_cfg, runs_dir=tmp_path / "b", progress="none", deterministic=True)
    assert json.dumps(done.metrics["last"]) == json.dumps(full.metrics["last"])   # NaN-aware, exact


def test_two_stage_classifier_retraining(tiny_cfg, tmp_path):
    s2 = tiny_cfg.replace(init_from=tiny_cfg.to_dict(), train_parts="classifier", sampler="cb", epochs=2)
    run = fit(s2, runs_dir=tmp_path, progress="none")
    assert run.finished and run.meta["stage1"] == tiny_cfg.run_id()


def test_papermill_sees_every_declared_parameter():
    """papermill's own parser must read every parameter (no 'Unable to parse line' / 'unknown parameter')."""
    import papermill as pm

    from ltlib.params import declared_params
    from ltlib.paths import NOTEBOOKS

    for nb in sorted(NOTEBOOKS.glob("[0-9]*.ipynb")):
        assert set(pm.inspect_notebook(str(nb))) == set(declared_params(nb)), nb.name


def test_every_run_writes_tensorboard_events_named_by_method_and_seed(tiny_cfg, tmp_path):
    """`tensorboard --logdir outputs/runs` shows each run's curves: read back with TensorBoard's own reader; a
    resumed run does not repeat epochs."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from ltlib.train import event_dir, fit

    cfg = tiny_cfg.replace(epochs=3, tag="CE")
    fit(cfg, tmp_path, progress="none", stop_after_epochs=2)
    run = fit(cfg, tmp_path, progress="none")
    folder = event_dir(run, cfg)
    assert folder.name == f"CE-seed{cfg.seed}" and folder.parent.parent == run.path
    acc = EventAccumulator(str(folder))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert {"train/loss", "train/train_acc", "eval/test_acc", "eval/tail"} <= set(tags)
    steps = [e.step for e in acc.Scalars("train/loss")]
    assert steps == [1, 2, 3]
    assert abs(acc.Scalars("eval/test_acc")[-1].value - run.metrics["last"]["test"]["acc"]) < 1e-6


def test_results_table_is_rounded_with_per_class_accuracy(tiny_cfg, tmp_path):
    import pandas as pd

    from ltlib.train import fit

    run = fit(tiny_cfg.replace(epochs=1), tmp_path, progress="none")
    table = pd.read_csv(tmp_path / "results.csv")
    per_class = run.metrics["last"]["test"]["per_class"]
    assert [f"class_{c}" for c in range(len(per_class))] <= list(table.columns)
    assert table["precision"].iloc[0] == "fp32"
    text = (tmp_path / "results.csv").read_text()
    assert all(len(x.split(".")[1]) <= 4 for x in text.replace("\n", ",").split(",") if x.replace(".", "").isdigit()
               and "." in x)
