"""``llara sr train | evaluate | import-llara`` end to end on a tiny dataset."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import save_file

from llara_core.cli.main import main
from llara_core.slots import ITEM_ENCODERS

METRIC_ROWS = ("HR@1", "HR@5", "HR@10", "NDCG@5", "NDCG@10", "MRR")


def test_train_then_evaluate_with_the_installed_command(llara_cli, tiny_dataset_dir, tmp_path):
    out = tmp_path / "gru"
    res = llara_cli("sr", "train", "--data", str(tiny_dataset_dir), "--model", "gru4rec", "--out", str(out),
                    "--epochs", "2", "--param", "dim=8", "--seed", "3", "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "kept epoch" in res.stdout and "(best val mrr): val HR@1" in res.stdout
    config = json.loads((out / "config.json").read_text())
    assert config["component"] == "gru4rec" and config["params"]["dim"] == 8 and config["n_items"] == 30
    assert config["training"]["seed"] == 3 and config["training"]["epochs_run"] == 2
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2

    res = llara_cli("sr", "evaluate", str(out), "--data", str(tiny_dataset_dir), "--split", "test",
                    "--seeds", "0,1", "--n-candidates", "10")
    assert res.returncode == 0, res.stderr
    assert all(row in res.stdout for row in METRIC_ROWS) and "95% CI" in res.stdout
    result = json.loads((out / "eval-test-n10.json").read_text())
    assert result["method"] == "gru4rec" and result["seeds"] == [0, 1] and result["samples"] == 4
    assert result["trained_on"] == result["data_hash"]
    assert set(result["summary"]) == {"hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10", "mrr"}
    assert result["summary"]["hr@10"]["mean"] == 1.0  # 10 candidates: the target is always in the top 10


def test_baseline_from_the_cli(tiny_dataset_dir, tmp_path, capsys):
    out = tmp_path / "pop.json"
    assert main(["sr", "evaluate", "--baseline", "random", "--data", str(tiny_dataset_dir),
                 "--seeds", "0,1,2", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["method"] == "baseline:random" and result["n_candidates"] == 20
    assert result["summary"]["hr@1"]["mean"] == pytest.approx(0.05)
    assert "baseline:random on tiny test" in capsys.readouterr().out


def test_import_llara_then_evaluate(tiny_dataset_dir, tmp_path, capsys):
    enc = ITEM_ENCODERS.build("sasrec", {"dim": 8}, n_items=30)
    save_file({k: v.contiguous() for k, v in enc.state_dict().items()}, str(tmp_path / "w.safetensors"),
              metadata={"item_num": "30", "hidden_size": "8", "state_size": "10", "num_heads": "1", "dropout": "0.1"})
    assert main(["sr", "import-llara", str(tmp_path / "w.safetensors"), "--out", str(tmp_path / "m"),
                 "--dataset", "tiny"]) == 0
    assert "imported" in capsys.readouterr().out
    assert main(["sr", "evaluate", str(tmp_path / "m"), "--data", str(tiny_dataset_dir), "--seeds", "0"]) == 0
    assert json.loads((tmp_path / "m" / "eval-test-n20.json").read_text())["trained_on"] is None


@pytest.mark.parametrize(
    "argv, message",
    [
        (["sr", "evaluate", "--data", "{data}"], "give either a MODEL_DIR or --baseline"),
        (["sr", "evaluate", "{tmp}", "--baseline", "random", "--data", "{data}"], "not both"),
        (["sr", "evaluate", "--baseline", "random", "--data", "{data}", "--seeds", "a,b"], "--seeds 'a,b'"),
        (["sr", "evaluate", "{tmp}/none", "--data", "{data}"], "config.json: not found"),
        (["sr", "train", "--data", "{data}", "--model", "sasrek", "--out", "{tmp}/m"], "did you mean 'sasrec'"),
        (["sr", "train", "--data", "{data}", "--model", "caser", "--out", "{tmp}/m", "--param", "dim"],
         "expected KEY=VALUE"),
        (["sr", "train", "--data", "{data}", "--model", "caser", "--out", "{tmp}/m", "--param", "dims=3"],
         "dims: Extra inputs are not permitted"),
        (["sr", "train", "--data", "{data}", "--model", "caser", "--out", "{tmp}/m", "--lr", "-1"],
         "lr: Input should be greater than 0"),
        (["sr", "import-llara", "{tmp}/missing.safetensors", "--out", "{tmp}/m"], "not found"),
    ],
)
def test_bad_input_is_one_line_error(argv, message, tiny_dataset_dir, tmp_path, capsys):
    argv = [a.format(data=tiny_dataset_dir, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert message in err and "Traceback" not in err


def test_model_for_another_catalogue_is_refused(tiny_dataset_dir, tmp_path, capsys):
    from llara_core.sr.checkpoint import save_item_encoder

    save_item_encoder(ITEM_ENCODERS.build("caser", {"dim": 8}, n_items=31), "caser", tmp_path / "m")
    assert main(["sr", "evaluate", str(tmp_path / "m"), "--data", str(tiny_dataset_dir)]) == 2
    assert "scores 31 items but" in " ".join(capsys.readouterr().err.split())
