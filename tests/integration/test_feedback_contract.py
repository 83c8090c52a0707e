"""True labels pass through the model's contract: a label that is not one of its classes is
refused (422 on a real server, one line and exit 1 in the CLI) and nothing is recorded;
duplicates are counted; accepted and replaced labels are counted."""

from __future__ import annotations

from pathlib import Path

import httpx
import pandas as pd
import pytest

from loopml.tracking.prediction_log import PredictionLog
from tests.integration.conftest import Project, cli
from tests.integration.logged import logged_server

pytestmark = pytest.mark.integration
CLASSES = "(classes: 'benign', 'malignant')"


def test_feedback_refuses_labels_outside_the_models_classes(
    breast_cancer: Project, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    live, _ = logged_server(breast_cancer.folder, breast_cancer.config_path, tmp_path / "log.db")
    features = pd.read_csv(breast_cancer.folder / "data" / "score_me.csv").head(2)
    rows = features.drop(columns=["patient_id"])
    with live as server, httpx.Client(timeout=30) as http:
        body = {"records": rows.to_dict("records")}
        rid = http.post(f"{server.url}/predict", json=body).json()["request_id"]

        def send(*labels: tuple[int, object]) -> httpx.Response:
            items = [{"request_id": rid, "row": row, "label": label} for row, label in labels]
            return http.post(f"{server.url}/feedback", json={"labels": items})

        maybe = send((0, "benign"), (1, "maybe"), (1, 1))
        assert maybe.status_code == 422
        assert maybe.json() == {
            "detail": f"labels[1] (request_id '{rid}', row 1): label 'maybe' is not a class of "
            f"breast-cancer v1 {CLASSES} (and 1 more refused labels); nothing was recorded",
            "received": 3,
            "refused": 2,
            "accepted": 0,
        }
        number = send((0, 1)).json()["detail"]
        assert number.startswith(f"labels[0] (request_id '{rid}', row 0): label 1 is not a class")
        conflict = send((0, "benign"), (0, "malignant")).json()["detail"]
        assert conflict == (
            f"labels[1] (request_id '{rid}', row 0): labelled 'malignant' after labels[0] "
            "labelled it 'benign'; keep the true one; nothing was recorded"
        )
        assert PredictionLog(url).counts()["labels"] == 0

        first = send((0, "benign"), (0, "benign"), (1, "malignant"))
        assert first.status_code == 200
        assert first.json() == {
            "received": 3, "matched": 2, "accepted": 2, "replaced": 0, "refused": 0,
            "duplicates": 1,
        }  # fmt: skip
        again = send((0, "malignant")).json()
        assert (again["accepted"], again["replaced"], again["matched"]) == (0, 1, 1)
    labelled = PredictionLog(url).labelled()
    assert labelled["label"].tolist() == ["malignant", "malignant"]

    # the CLI: one line naming the file, line, request and row; exit 1; nothing written
    pd.DataFrame(
        {"request_id": [rid, rid], "row": [0, 1], "diagnosis": ["benign", "Maybe"]}
    ).to_csv(tmp_path / "labels.csv", index=False)
    settings = ("-c", str(breast_cancer.config_path), "--set", f"serve.prediction_log.url={url}")
    code, stdout, stderr = cli("feedback", str(tmp_path / "labels.csv"), *settings)
    assert code == 1 and stdout == ""
    assert stderr.strip() == (
        f"error: {tmp_path / 'labels.csv'}: line 3 (request_id '{rid}', row 1): label 'Maybe' "
        f"is not a class of breast-cancer v1 {CLASSES}; nothing was recorded"
    )
    assert PredictionLog(url).labelled()["label"].tolist() == ["malignant", "malignant"]

    pd.DataFrame(
        {"request_id": [rid, rid], "row": [0, 0], "diagnosis": ["benign", "benign"]}
    ).to_csv(tmp_path / "labels.csv", index=False)
    code, stdout, stderr = cli("feedback", str(tmp_path / "labels.csv"), *settings)
    assert code == 0, stderr
    assert "1 rows repeat a request_id and row with the same label" in " ".join(stderr.split())
    assert "0 new, 1 replaced, 0 refused, 1 duplicates; 1 match" in " ".join(stderr.split())
