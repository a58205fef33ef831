"""Aggregation (dlib's `aggregate_results_to_json`): many results directories → one table.

`aggregate(pattern, output_path)` reads every file matching `pattern` (typically
`<study>/*/metrics/*/*/results/aggregate/evaluation.json`), adds its `path`, and writes

* `output_path` (.json): the table as pandas' `DataFrame.to_json()` writes it (column-oriented:
  `{"evaluation_results.discrete_mig": {"0": 0.31, "1": 0.12}, ...}`), which dlib's
  `load_aggregated_json_results` (`pd.read_json`) reads back;
* the same rows as CSV beside it (`.csv`), one column per key, sorted.

Both are written atomically. Rows are sorted by path, so the table is stable across runs.
"""

from __future__ import annotations

import csv
import glob
import json
import os

from dynvae_keras import atomic


def load_rows(pattern):
  """[{key: value, ..., 'path': file}] for every file matching `pattern`, sorted by path."""
  files = sorted(glob.glob(pattern, recursive=True))
  if not files:
    raise FileNotFoundError(f"No results match {pattern!r}; check the pattern (quote it in the "
                            "shell) or run the evaluations first.")
  rows = []
  for path in files:
    try:
      row = atomic.load_json(path)
    except (OSError, json.JSONDecodeError) as e:
      raise ValueError(f"{path} is not a readable results JSON ({e}); rerun the step that wrote it.") from e
    row["path"] = path
    rows.append(row)
  return rows


def aggregate(pattern, output_path):
  """Writes the aggregated table as JSON (dlib's layout) and CSV; returns the rows."""
  rows = load_rows(pattern)
  columns = sorted({key for row in rows for key in row})
  table = {column: {str(i): row.get(column) for i, row in enumerate(rows)} for column in columns}
  atomic.save_json(output_path, table)
  csv_path = os.path.splitext(output_path)[0] + ".csv"
  with atomic.atomic_file(csv_path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
    writer = csv.DictWriter(f, fieldnames=columns)
    writer.writeheader()
    for row in rows:
      writer.writerow({k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in row.items()})
  return rows


def load_aggregated_json(path):
  """The rows of a table written by `aggregate` (as `pd.read_json(path).to_dict('records')`)."""
  table = atomic.load_json(path)
  indices = sorted({i for column in table.values() for i in column}, key=int)
  return [{column: values.get(i) for column, values in table.items()} for i in indices]
