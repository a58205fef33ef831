"""docs/REPRODUCTION.md's 30,000-step study is reported from the run records committed beside its
report (docs/reproduction/cpu30k/runs/): they must be in the repository, match the study's
current gin config, and give back the committed tables."""

import json

from conftest import REPO
from dynvae_keras.pipeline import report, run_records
from dynvae_keras.pipeline.study import load_study

STUDY = "study/controlled_beta_study_cpu30k.gin"
REPORT = REPO / "docs" / "reproduction" / "cpu30k"


def test_the_documented_report_follows_from_its_committed_run_records(tmp_path):
  documented = sorted(int(row.split(",", 1)[0])
                      for row in (REPORT / "per_model.csv").read_text().splitlines()[1:])
  assert sorted(int(p.stem) for p in (REPORT / "runs").glob("*.json")) == documented
  settings = load_study(STUDY)
  for point in settings.sweep():  # every record describes its sweep point of the current study
    if point.model_num in documented:
      assert run_records.read([str(REPORT / "runs")], settings, point) is not None
  out = tmp_path / "report"
  report.report(STUDY, str(tmp_path / "no_study_dir"), str(out), traversals=False,
                allow_incomplete=True, records=[str(REPORT / "runs")])
  for name in ("per_model.csv", "claims.md"):
    assert (out / name).read_text() == (REPORT / name).read_text(), name
  for path in (REPORT / "runs").glob("*.json"):
    assert json.loads((out / "runs" / path.name).read_text()) == json.loads(path.read_text())
