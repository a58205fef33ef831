"""The controlled-β papers' central claims, judged on a study's per-run results.

`judge(rows, logs, families)` takes the rows and training logs of `report.collect` and the model
family of each model name (`model_families(settings)`) and returns one `Judgement` per claim
and model it concerns:

* DynamicVAE (Shao et al., CVPR 2022) — "decoupling": it reconstructs clearly better than every
  β-VAE of the study that disentangles as well; "β path": β starts above 1 and ends below 1;
  "KL tracking": the KL follows the set point.
* ControlVAE (Shao et al., ICML 2020) — "KL tracking" and "reconstruction": clearly better
  reconstruction than every β-VAE that disentangles as well.
* L-VAE — "rank": best or second best by mean MIG and by mean DCI disentanglement among the
  β = 1 VAE, β-VAEs, ControlVAE, DynamicVAE, σ-VAE and itself; not supported as soon as two of
  them are clearly above it on one score, even while others have too few seeds to compare.

Conventions (the criteria; nothing is tuned per study):

* *Disentanglement* is dlib's MIG (`MIG`), *reconstruction* the Bernoulli cross-entropy of the
  decoded posterior mean (`BCE@mean`, nats per image, lower is better): the one reconstruction
  error every model shares.
* *Clearly* better/worse: the difference of the two models' means over seeds exceeds the sum
  of their sample standard deviations (ddof 1). A comparison needs ≥ 2 seeds on each side; with
  fewer the claim is *not resolvable*.
* The β-VAEs are the models of the `vae` and `beta_vae` configs; "disentangles as well as X"
  means its mean MIG is not clearly below X's. A decoupling claim is only judged for a model
  whose MIG is clearly above the β = 1 VAE's (the β-VAE whose final β is 1), when the study has
  one: without disentanglement there is nothing to decouple from reconstruction.
* *KL tracking*, in two parts: the KL *follows the rising set point* when in every seed the mean
  |KL − C| over the logged intervals before C reaches its final value (`|KL − C| rise`,
  `report.kl_rise_error`) is at most `KL_TOLERANCE` × the final C, and is *held at the final set
  point* when the same holds over the last quarter of the logged intervals (`|KL − C| end`,
  `report.kl_tracking_error`). Per-run properties (β path, KL tracking) are judged on the seeds
  there are, stated in the evidence.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from dynvae_keras.pipeline.report import fmt_number, kl_target, markdown_cell
from dynvae_keras.pipeline.study import config_stem

SUPPORTED = "supported"
NOT_SUPPORTED = "not supported"
NOT_RESOLVABLE = "not resolvable"
#: Largest mean |KL − C| while C rises and over the last quarter, as a fraction of the final C.
KL_TOLERANCE = 0.1
#: Model config stems (`study.models` entries) by family, matched as prefixes in this order.
FAMILIES = ("control_vae", "dynamic_vae", "l_vae", "sigma_vae", "beta_tc_vae", "beta_vae",
            "annealed_vae", "vae")
BETA_VAES = ("vae", "beta_vae")
L_VAE_FIELD = ("vae", "beta_vae", "control_vae", "dynamic_vae", "sigma_vae", "l_vae")
L_VAE_SCORES = ("MIG", "DCI disent.")


@dataclasses.dataclass(frozen=True)
class Judgement:
  claim: str
  model: str
  verdict: str
  evidence: str


def family(stem):
  """The family of a model config stem ('control_vae_quick' → 'control_vae'); the stem itself
  when it belongs to none of `FAMILIES`."""
  return next((f for f in FAMILIES if stem == f or stem.startswith(f + "_")), stem)


def model_families(settings):
  """{model name: family} for the `study.models` entries of `settings`."""
  return {name: family(config_stem(config)) for name, config, *_ in settings.models}


@dataclasses.dataclass(frozen=True)
class _Stat:
  mean: float
  std: float
  n: int

  def __str__(self):
    return (f"{fmt_number(self.mean)} ± {fmt_number(self.std)}" if self.n > 1
            else fmt_number(self.mean))


def _stat(rows, name, column):
  values = np.asarray([r[column] for r in rows if r["name"] == name and not math.isnan(r[column])],
                      dtype=np.float64)
  if not len(values):
    return _Stat(float("nan"), float("nan"), 0)
  return _Stat(float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else float("nan"),
               len(values))


def clearly_greater(a, b):
  """Whether mean a − mean b exceeds std a + std b (False when either has < 2 seeds)."""
  if a.n < 2 or b.n < 2:
    return False
  return a.mean - b.mean > a.std + b.std


def _few_seeds(rows, names):
  few = [n for n in names if _stat(rows, n, "MIG").n < 2]
  return f"needs ≥ 2 seeds per model, has fewer for {', '.join(few)}" if few else ""


def decoupling(rows, logs, families, name):  # pylint: disable=unused-argument
  """`name` reconstructs clearly better than every β-VAE that disentangles as well (see the
  module docstring); returns (verdict, evidence)."""
  betas = [n for n, f in families.items() if f in BETA_VAES and _stat(rows, n, "MIG").n]
  if not betas:
    return NOT_RESOLVABLE, "the study has no finished β-VAE to compare with"
  few = _few_seeds(rows, [name, *betas])
  mig = {n: _stat(rows, n, "MIG") for n in [name, *betas]}
  bce = {n: _stat(rows, n, "BCE@mean") for n in [name, *betas]}
  numbers = "; ".join(f"{n}: MIG {mig[n]}, BCE@mean {bce[n]}" for n in [name, *betas])
  if few:
    return NOT_RESOLVABLE, f"{few} ({numbers})"
  plain = [n for n in betas if _stat(rows, n, "final β").mean == 1.0]
  if plain and not clearly_greater(mig[name], mig[plain[0]]):
    return NOT_RESOLVABLE, (f"{name} does not disentangle clearly more than the β = 1 VAE "
                            f"{plain[0]} ({numbers})")
  rivals = [n for n in betas if not clearly_greater(mig[name], mig[n])]
  if not rivals:
    return NOT_RESOLVABLE, f"every β-VAE disentangles clearly less than {name} ({numbers})"
  unbeaten = [n for n in rivals if not clearly_greater(bce[n], bce[name])]
  if unbeaten:
    return NOT_SUPPORTED, (f"{', '.join(unbeaten)} disentangle(s) as well and reconstruct(s) as "
                           f"well or better ({numbers})")
  return SUPPORTED, (f"clearly lower BCE@mean than {', '.join(rivals)}, which disentangle(s) as "
                     f"well ({numbers})")


def beta_path(rows, logs, families, name):  # pylint: disable=unused-argument
  """β starts above 1 and ends below 1 in every seed (the rows' `first β` and `final β`, the
  first and last logged β)."""
  runs = [(row["seed"], row["first β"], row["final β"]) for row in rows
          if row["name"] == name and not math.isnan(row["final β"])]
  if not runs:
    return NOT_RESOLVABLE, f"{name} logs no β"
  numbers = "; ".join(f"seed {s}: {fmt_number(a)} → {fmt_number(b)}" for s, a, b in runs)
  ok = all(first > 1 > last for _, first, last in runs)
  return (SUPPORTED if ok else NOT_SUPPORTED), f"{len(runs)} seed(s), β {numbers}"


def _kl_claim(rows, logs, name, column, tolerance):
  targets = {row["model_num"]: kl_target(logs[row["model_num"]]) for row in rows
             if row["name"] == name}
  runs = [(row["seed"], row[column], float(targets[row["model_num"]][-1]))
          for row in rows if targets.get(row["model_num"]) is not None]
  if not runs:
    return NOT_RESOLVABLE, f"{name} logs no KL set point"
  if any(math.isnan(err) for _, err, _ in runs):
    return NOT_RESOLVABLE, f"{name}'s set point never changes: there is no rise to follow"
  numbers = "; ".join(f"seed {s}: {fmt_number(err)} nats" for s, err, _ in runs)
  ok = all(err <= tolerance * c for _, err, c in runs)
  return ((SUPPORTED if ok else NOT_SUPPORTED),
          f"{len(runs)} seed(s), {column} {numbers}; final C {fmt_number(runs[0][2])} nats, "
          f"tolerance {tolerance:g} × C")


def kl_held(rows, logs, families, name,  # pylint: disable=unused-argument
            tolerance=KL_TOLERANCE):
  """In every seed the mean |KL − C| over the last quarter of the logged intervals is at most
  `tolerance` × the final C."""
  return _kl_claim(rows, logs, name, "|KL − C| end", tolerance)


def kl_follows(rows, logs, families, name,  # pylint: disable=unused-argument
               tolerance=KL_TOLERANCE):
  """In every seed the mean |KL − C| while C rises to its final value is at most `tolerance` ×
  the final C."""
  return _kl_claim(rows, logs, name, "|KL − C| rise", tolerance)


def l_vae_rank(rows, logs, families, name,  # pylint: disable=unused-argument
               scores=L_VAE_SCORES):
  """Best or second best by mean on each of `scores` among the `L_VAE_FIELD` families."""
  field = [n for n, f in families.items() if f in L_VAE_FIELD and _stat(rows, n, "MIG").n]
  if name not in field:
    return NOT_RESOLVABLE, f"{name} has no MIG"
  parts, verdicts = [], []
  for score in scores:
    stats = {n: _stat(rows, n, score) for n in field}
    order = sorted(field, key=lambda n: -stats[n].mean)
    rank = order.index(name) + 1
    above = [n for n in field if clearly_greater(stats[n], stats[name])]
    parts.append(f"{score}: rank {rank} of {len(field)} ("
                 + ", ".join(f"{n} {stats[n]}" for n in order) + ")")
    if len(above) >= 2:
      parts[-1] += f"; clearly above it: {', '.join(above)}"
    verdicts.append(SUPPORTED if rank <= 2 else NOT_SUPPORTED if len(above) >= 2 else NOT_RESOLVABLE)
  few = _few_seeds(rows, field)
  # Two models clearly above it (each comparison with ≥ 2 seeds on both sides) rule out a top-two
  # place whatever the models with fewer seeds score; any other verdict needs them all.
  if few and NOT_SUPPORTED not in verdicts:
    return NOT_RESOLVABLE, f"{few}; " + "; ".join(parts)
  verdict = (NOT_SUPPORTED if NOT_SUPPORTED in verdicts else
             SUPPORTED if all(v == SUPPORTED for v in verdicts) else NOT_RESOLVABLE)
  return verdict, "; ".join(parts)


#: The claims judged for each family: (claim, check(rows, logs, families, name) → (verdict,
#: evidence)).
CLAIMS = {
    "dynamic_vae": (("decoupling", decoupling),
                    ("β from above 1 to below 1", beta_path),
                    ("KL follows the rising set point", kl_follows),
                    ("KL held at the final set point", kl_held)),
    "control_vae": (("KL follows the rising set point", kl_follows),
                    ("KL held at the final set point", kl_held),
                    ("better reconstruction than β-VAE", decoupling)),
    "l_vae": (("best or second best on MIG and DCI", l_vae_rank),),
}


def judge(rows, logs, families):
  """[Judgement] for every claim in `CLAIMS` of every model family the rows contain."""
  out = []
  for name in dict.fromkeys(r["name"] for r in rows):
    for claim, check in CLAIMS.get(families.get(name), ()):
      verdict, evidence = check(rows, logs, families, name)
      out.append(Judgement(claim, name, verdict, evidence))
  return out


def claims_markdown(judgements):
  """Markdown table of the judgements, after a line stating the criteria."""
  if not judgements:
    return "No finished run of a ControlVAE, DynamicVAE or L-VAE: no claim to judge yet.\n"
  lines = ["Criteria: `dynvae_keras.pipeline.paper_claims` — *clearly* = the means differ by more "
           "than the sum of the seeds' standard deviations; reconstruction = BCE@mean; "
           f"KL tracking = mean \\|KL − C\\| ≤ {KL_TOLERANCE:g} × the final C in every seed, while "
           "C rises and over the last quarter of training.", "",
           "| model | claim | verdict | evidence |", "|---|---|---|---|"]
  for j in judgements:
    lines.append(f"| {j.model} | {j.claim} | **{j.verdict}** | {markdown_cell(j.evidence)} |")
  return "\n".join(lines) + "\n"
