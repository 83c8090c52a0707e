"""loopml.config.load_config: defaults, path resolution, --set overrides and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.config import json_schema, load_config
from loopml.errors import ConfigError

MINIMAL = """\
name: demo
data:
  source: data/train.csv
  target: survived
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "loopml.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path, overrides: list[str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    return str(info.value)


def test_minimal_file_loads_with_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL))

    assert cfg.name == "demo"
    assert cfg.data.target == "survived"
    assert cfg.data.task == "auto"
    assert (cfg.split.test, cfg.split.validation, cfg.split.seed) == (0.2, 0.2, 42)
    assert cfg.split.stratify is True
    assert cfg.models.candidates is None
    assert cfg.metric is None
    assert cfg.serve.port == 8000
    assert cfg.experiment_name == "demo"
    assert cfg.model_name == "demo"


def test_relative_source_is_resolved_against_the_yaml_folder(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    cfg = load_config(write(project, MINIMAL))

    assert Path(cfg.data.source) == (project / "data" / "train.csv").resolve()
    assert cfg.root == project.resolve()


def test_default_sqlite_tracking_uri_is_resolved_against_the_yaml_folder(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL))

    expected = (tmp_path / ".loopml" / "mlflow.db").resolve()
    assert cfg.tracking.uri == f"sqlite:///{expected}"
    assert Path(cfg.tracking.artifacts) == (tmp_path / ".loopml" / "artifacts").resolve()


def test_relative_sqlite_data_source_is_resolved_but_other_urls_are_kept(tmp_path: Path) -> None:
    text = MINIMAL.replace("data/train.csv", "sqlite:///db/shop.db") + "  query: SELECT 1\n"
    cfg = load_config(write(tmp_path, text), ["tracking.uri=http://mlflow:5000"])

    assert cfg.data.source == f"sqlite:///{(tmp_path / 'db' / 'shop.db').resolve()}"
    assert cfg.tracking.uri == "http://mlflow:5000"


def test_set_override_parses_yaml_scalars(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL), ["split.seed=7", "split.stratify=false"])

    assert cfg.split.seed == 7
    assert isinstance(cfg.split.seed, int)
    assert cfg.split.stratify is False


def test_set_override_creates_nested_new_keys(tmp_path: Path) -> None:
    overrides = ["models.candidates.ridge.alpha=2.5", "data.columns.ignore=[name, ticket]"]
    cfg = load_config(write(tmp_path, MINIMAL), overrides)

    assert cfg.models.candidates == {"ridge": {"alpha": 2.5}}
    assert cfg.data.columns.ignore == ["name", "ticket"]


def test_set_override_without_equals_sign_is_rejected(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, MINIMAL), ["nokey"])

    assert "'nokey'" in message
    assert "KEY.PATH=VALUE" in message


def test_set_override_into_a_scalar_is_rejected(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, MINIMAL), ["name.sub=1"])

    assert "'name' holds a value" in message


def test_set_override_is_validated_like_the_file(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, MINIMAL), ["split.seed=seven"])

    assert "split.seed" in message
    assert "seven" in message


def test_a_bad_value_from_the_command_line_names_the_command_line_not_the_file(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, MINIMAL + "split:\n  seed: x\n")
    message = error_of(path, ["tuning.budget.time_limit=0"])  # what --time-limit 0 sets
    assert message.splitlines() == [
        "loopml.yaml: split.seed: Input should be a valid integer, unable to parse string as "
        "an integer (got 'x')",
        "command line: tuning.budget.time_limit: Input should be greater than 0 (got 0)",
    ]


def test_typo_key_names_the_key_and_suggests_the_right_one(tmp_path: Path) -> None:
    text = MINIMAL.replace("target:", "tagret:")
    message = error_of(write(tmp_path, text))

    assert "data.tagret" in message
    assert "did you mean 'target'" in message
    assert message.startswith("loopml.yaml: ")


def test_unknown_key_without_close_match_lists_known_keys(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, MINIMAL + "split:\n  zzzzzz: 1\n"))

    assert "split.zzzzzz: unknown key" in message
    assert "known keys:" in message
    assert "seed" in message


def test_several_problems_give_one_line_each(tmp_path: Path) -> None:
    text = MINIMAL + "split:\n  sed: 3\nserve:\n  port: 99999\n"
    lines = error_of(write(tmp_path, text)).splitlines()

    assert len(lines) == 2
    assert all(line.startswith("loopml.yaml: ") for line in lines)
    assert any("split.sed" in line and "did you mean 'seed'" in line for line in lines)
    assert any("serve.port" in line and "99999" in line for line in lines)


def test_missing_required_key_is_named(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "name: demo\ndata:\n  source: a.csv\n"))

    assert message == "loopml.yaml: data.target: required key is missing"


def test_missing_file_gives_one_line_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    message = error_of(path)

    assert str(path) in message
    assert "no such file" in message
    assert "\n" not in message


def test_invalid_yaml_gives_one_line_naming_the_file_and_line(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "name: demo\ndata: {source: a.csv, target: y\n"))

    assert message.startswith("loopml.yaml:")
    assert "invalid YAML" in message
    assert "line " in message
    assert "\n" not in message


def test_yaml_that_is_not_a_mapping_is_rejected(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "- just\n- a list\n"))

    assert "loopml.yaml" in message
    assert "expected a mapping" in message


@pytest.mark.parametrize(("test", "validation"), [(0.5, 0.4), (0.45, 0.45), (0.6, 0.35)])
def test_split_leaving_under_ten_percent_to_train_is_rejected(
    tmp_path: Path, test: float, validation: float
) -> None:
    overrides = [f"split.test={test}", f"split.validation={validation}"]
    message = error_of(write(tmp_path, MINIMAL), overrides)

    assert "split" in message
    assert "lower split.test or split.validation" in message


def test_split_just_under_the_limit_is_accepted(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL), ["split.test=0.5", "split.validation=0.35"])

    assert cfg.split.test + cfg.split.validation == pytest.approx(0.85)


def test_column_declared_in_two_roles_is_rejected(tmp_path: Path) -> None:
    text = MINIMAL + "  columns:\n    numeric: [age]\n    categorical: [sex, age]\n"
    message = error_of(write(tmp_path, text))

    assert "data.columns" in message
    assert "'age'" in message
    assert "numeric" in message and "categorical" in message


def test_sql_source_without_query_is_rejected(tmp_path: Path) -> None:
    text = MINIMAL.replace("data/train.csv", "postgresql://user@host/shop")
    message = error_of(write(tmp_path, text))

    assert "postgresql://user@host/shop" in message
    assert "data.query" in message


def test_sql_source_with_query_is_accepted(tmp_path: Path) -> None:
    text = MINIMAL.replace("data/train.csv", "postgresql://user@host/shop")
    cfg = load_config(write(tmp_path, text + "  query: SELECT * FROM t\n"))

    assert cfg.data.is_sql()
    assert cfg.data.source == "postgresql://user@host/shop"


def test_candidates_given_as_a_list_become_empty_params(tmp_path: Path) -> None:
    text = MINIMAL + "models:\n  candidates: [ridge, sklearn.svm.SVC]\n"
    cfg = load_config(write(tmp_path, text))

    assert cfg.models.candidates == {"ridge": {}, "sklearn.svm.SVC": {}}


def test_candidate_with_null_params_gets_empty_params(tmp_path: Path) -> None:
    text = MINIMAL + "models:\n  candidates:\n    ridge:\n    lightgbm: {num_leaves: 15}\n"
    cfg = load_config(write(tmp_path, text))

    assert cfg.models.candidates == {"ridge": {}, "lightgbm": {"num_leaves": 15}}


def test_json_schema_describes_the_file() -> None:
    schema = json_schema()

    assert schema["title"] == "loopml.yaml"
    assert "data" in schema["properties"]
    assert "split" in schema["properties"]
    assert "data" in schema["required"]


def test_training_key_changes_with_seed_but_not_with_tracking(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    base = load_config(path).training_key()

    assert load_config(path).training_key() == base
    assert load_config(path, ["split.seed=7"]).training_key() != base
    assert load_config(path, ["metric=accuracy"]).training_key() != base
    assert load_config(path, ["tracking.uri=http://elsewhere:5000"]).training_key() == base
    assert load_config(path, ["serve.port=9000"]).training_key() == base


def test_refit_auto_uses_validation_rows_unless_calibration_or_threshold_need_them(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, MINIMAL)

    assert load_config(path).refit_rows() == "train+validation"
    assert load_config(path, ["evaluation.calibration=sigmoid"]).refit_rows() == "train"
    threshold = ["evaluation.threshold={min_confidence: 0.7}"]
    assert load_config(path, threshold).refit_rows() == "train"
    assert load_config(path, ["train.refit=train"]).refit_rows() == "train"


def test_refit_on_validation_rows_that_calibration_needs_is_one_line(tmp_path: Path) -> None:
    overrides = ["train.refit=train+validation", "evaluation.calibration=isotonic"]
    message = error_of(write(tmp_path, MINIMAL), overrides)

    assert "train.refit: train+validation is not possible" in message
    assert "evaluation.calibration" in message
    assert "set train.refit: auto" in message
    assert "\n" not in message


def test_refit_setting_changes_the_training_key(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    refit, plain = load_config(path), load_config(path, ["train.refit=train"])

    assert refit.training_key() != plain.training_key()
