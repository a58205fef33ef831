"""Controllers and schedules against plain-Python reference loops of DESIGN §3, and their properties."""

import math

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynvae_keras import control
from helpers import to_numpy


def as_floats(logs):
  """{name: float} of a controller's logs (tensors)."""
  return {k: float(to_numpy(v)) for k, v in logs.items()}


def f(e):
  return 1.0 / (1.0 + math.exp(e)) if e < 700 else 0.0


def reference_pi(kls, setpoint, kp, ki, beta_min, beta_max=None):
  """ControlVAE positional PI as the official `Disentangling/P_PID.py` (t from 1; W(0) = 1.0, the
  official offset and anti-windup threshold, which `beta_min` generalises)."""
  integral, w_prev, out = 0.0, beta_min, []
  for t, y in enumerate(kls, start=1):
    e = setpoint(t) - y
    p = kp * f(e)
    if w_prev >= beta_min:
      integral = integral - ki * e
    w = p + integral + beta_min
    w_prev = w
    beta = max(w, beta_min)
    out.append((min(beta, beta_max) if beta_max is not None else beta, integral))
  return out


def reference_incremental(kls, setpoint, beta_0, beta_min, kp, ki, window):
  """DynamicVAE incremental PI with a zero-initialised FIFO of T − 1 zeros."""
  fifo = [0.0] * (window - 1)
  w_prev, e_prev, integral, out = beta_0, 0.0, 0.0, []
  for t, kl in enumerate(kls, start=1):
    fifo.append(kl)
    if len(fifo) > window:
      fifo.pop(0)
    y = sum(fifo) / window
    e = setpoint(t) - y
    d_i = 0.0 if w_prev < beta_min else -ki * e
    w = w_prev + kp * (f(e) - f(e_prev)) + d_i
    integral += d_i
    w_prev, e_prev = w, e
    out.append((max(w, beta_min), y, integral))
  return out


def staircase(t, start=0.5, step=0.15, every=20, maximum=3.0):
  return min(maximum, start + step * (t // every))


def hybrid(t, start=0.5, step=0.15, period=6000, ramp=1000, maximum=20.0):
  k, r = divmod(t, period)
  if k < 1:
    return start
  return min(maximum, start + step * (k - 1) + step * min(r + 1, ramp) / ramp)


KLS = np.concatenate([np.zeros(30), np.linspace(0, 8, 60), np.full(40, 2.5),
                      np.random.RandomState(0).gamma(2.0, 2.0, size=70), [1e6, 0.0, 1e6, 0.0]])


def test_pi_controller_matches_reference_every_step():
  ctrl = control.PIController(control.StaircaseSetPoint(0.5, 0.15, 20, 3.0), kp=0.01, ki=0.001, beta_min=1.0)
  expected = reference_pi(KLS, staircase, 0.01, 0.001, 1.0)
  for kl, (beta, integral) in zip(KLS, expected):
    logs = ctrl.update(kl)
    assert float(to_numpy(logs["beta"])) == pytest.approx(beta, rel=1e-5, abs=1e-6)
    assert float(to_numpy(logs["i_term"])) == pytest.approx(integral, rel=1e-4, abs=1e-6)


def test_pi_controller_first_step_integrates():
  """The official loop starts with W_k1 = 1.0, not below the threshold: step 1 integrates."""
  ctrl = control.PIController(control.ConstantSetPoint(0.5), kp=0.01, ki=0.001, beta_min=1.0)
  logs = as_floats(ctrl.update(3.0))
  assert logs["i_term"] == pytest.approx(-0.001 * (0.5 - 3.0), rel=1e-6)
  assert logs["beta"] == pytest.approx(0.01 * f(0.5 - 3.0) + 0.0025 + 1.0, rel=1e-6)


def test_pi_controller_beta_max():
  ctrl = control.PIController(control.ConstantSetPoint(0.0), kp=0.01, ki=0.5, beta_min=1.0, beta_max=1.2)
  betas = [float(to_numpy(ctrl(kl))) for kl in [5.0] * 50]
  assert max(betas) == pytest.approx(1.2) and min(betas) >= 1.0


def test_pi_integral_frozen_exactly_when_previous_output_below_min():
  ctrl = control.PIController(control.ConstantSetPoint(2.0), kp=0.01, ki=0.1, beta_min=1.0)
  previous_output = 1.0  # W(0) = β_min, as the official W_k1 = 1.0
  for kl in [0.0, 0.0, 5.0, 5.0, 5.0, 0.0, 0.0, 0.0, 0.0, 9.0]:
    before = float(to_numpy(ctrl.integral))
    ctrl(kl)
    after = float(to_numpy(ctrl.integral))
    if previous_output < 1.0:
      assert after == before
    else:
      assert after == pytest.approx(before - 0.1 * (2.0 - kl), rel=1e-6)
    previous_output = float(to_numpy(ctrl.previous_output))


def test_incremental_pi_matches_reference_every_step():
  setpoint = control.HybridAnnealingSetPoint(0.5, 0.5, 30, 10, 6.0)
  ctrl = control.IncrementalPIController(setpoint, beta_0=50.0, beta_min=0.1, kp=0.01, ki=0.05, window=5)
  expected = reference_incremental(KLS, lambda t: hybrid(t, 0.5, 0.5, 30, 10, 6.0), 50.0, 0.1, 0.01, 0.05, 5)
  for kl, (beta, feedback, integral) in zip(KLS, expected):
    logs = ctrl.update(kl)
    assert float(to_numpy(logs["kl_feedback"])) == pytest.approx(feedback, rel=1e-5, abs=1e-5)
    assert float(to_numpy(logs["beta"])) == pytest.approx(beta, rel=1e-4, abs=1e-4)
    # i_term = W − β₀ − p_term equals the sum of the integral increments up to W's float32
    # rounding (W ≈ 50 accumulates ~1e-6 per step; β carries the same)
    assert float(to_numpy(logs["i_term"])) == pytest.approx(integral, rel=1e-4, abs=2e-4)
    w = 50.0 + float(to_numpy(logs["p_term"])) + float(to_numpy(logs["i_term"]))
    assert w == pytest.approx(float(to_numpy(ctrl.previous_output)), rel=1e-4, abs=1e-4)


def test_moving_average_warm_up():
  zero = control.MovingAverage(4)
  plain = control.MovingAverage(4, zero_init=False)
  values = [4.0, 8.0, 12.0, 16.0, 20.0]
  assert [float(to_numpy(zero(v))) for v in values] == [1.0, 3.0, 6.0, 10.0, 14.0]
  assert [float(to_numpy(plain(v))) for v in values] == [4.0, 6.0, 8.0, 10.0, 14.0]


def test_hybrid_setpoint_closed_form_over_50k_steps():
  schedule = control.HybridAnnealingSetPoint()
  steps = np.arange(1, 50001)
  expected = np.array([hybrid(int(t)) for t in steps])
  np.testing.assert_allclose(schedule.values(steps), expected, rtol=0, atol=1e-9)
  in_graph = schedule(keras.ops.convert_to_tensor(6500.0))  # the tensor path used inside a step
  assert float(to_numpy(in_graph)) == pytest.approx(hybrid(6500), rel=1e-6)


def test_staircase_and_linear_setpoints():
  stairs = control.StaircaseSetPoint(0.5, 0.15, 5000, 18.0)
  assert stairs.values([1, 4999, 5000, 10000, 10 ** 7]).tolist() == pytest.approx([0.5, 0.5, 0.65, 0.8, 18.0])
  linear = control.LinearSetPoint(0.0, 25.0, 100)
  assert linear.values([0, 50, 100, 200]).tolist() == [0.0, 12.5, 25.0, 25.0]
  assert control.ConstantSetPoint(3.0).values([1, 2]).tolist() == [3.0, 3.0]


@pytest.mark.parametrize("make,match", [
    (lambda: control.IncrementalPIController(beta_0=0.05, beta_min=0.1), "beta_0"),
    (lambda: control.MovingAverage(0), "window"),
    (lambda: control.PIController(kp=-1.0), "gains"),
    (lambda: control.PIController(beta_min=2.0, beta_max=1.0), "beta_max"),
    (lambda: control.HybridAnnealingSetPoint(period=100, ramp=200), "ramp"),
    (lambda: control.StaircaseSetPoint(every=0), "every"),
    (lambda: control.StaircaseSetPoint(start=5.0, maximum=1.0), "maximum"),
])
def test_invalid_settings_raise_at_construction(make, match):
  with pytest.raises(ValueError, match=match):
    make()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.one_of(st.just(0.0), st.just(1e6), st.floats(0.0, 1e6)), min_size=1, max_size=30))
def test_beta_stays_within_clamps_for_any_kl_sequence(kls):
  pi = control.PIController(control.ConstantSetPoint(5.0), beta_min=1.0, beta_max=100.0)
  inc = control.IncrementalPIController(control.ConstantSetPoint(5.0), beta_0=50.0, beta_min=0.1)
  for kl in kls:
    b1, b2 = float(to_numpy(pi(kl))), float(to_numpy(inc(kl)))
    assert 1.0 <= b1 <= 100.0 and math.isfinite(b1)
    assert b2 >= 0.1 and math.isfinite(b2)


def test_controller_config_round_trip():
  ctrl = control.IncrementalPIController(control.HybridAnnealingSetPoint(0.5, 1.0, 100, 20, 20.0), beta_0=30.0)
  clone = control.IncrementalPIController.from_config(ctrl.get_config())
  assert clone.get_config() == ctrl.get_config()
  assert clone.setpoint.get_config() == ctrl.setpoint.get_config()


@pytest.mark.parametrize("make, initial_beta", [
    (lambda: control.PIController(control.StaircaseSetPoint(0.5, 1.0, 3, 8.0), kp=0.01, ki=0.05), 1.0),
    (lambda: control.IncrementalPIController(control.HybridAnnealingSetPoint(0.5, 1.0, 4, 2, 9.0),
                                             beta_0=20.0, kp=0.5, ki=0.3), 20.0),
    (lambda: control.IncrementalPIController(zero_init=False, beta_0=5.0), 5.0)])
def test_last_logs_are_the_last_update(make, initial_beta):
  """`last_logs()` (what evaluation logs) is read back from the state: the initial β and zeros
  before any update, then exactly the values the last update returned."""
  controller = make()
  before = as_floats(controller.last_logs())
  assert before == {"beta": initial_beta, "kl_setpoint": 0.0, "kl_feedback": 0.0, "p_term": 0.0,
                    "i_term": 0.0}
  for kl in (3.0, 0.2, 7.5, 1.0, 4.0, 12.0, 0.0):
    logs = as_floats(controller.update(kl))
    last = as_floats(controller.last_logs())
    assert last.keys() == logs.keys()
    assert last == logs  # the same expressions on the same state: bit for bit
    assert float(to_numpy(controller.beta)) == logs["beta"]


@pytest.mark.parametrize("make", [
    lambda: control.PIController(control.StaircaseSetPoint(0.5, 1.0, 3, 8.0), kp=0.01, ki=0.05),
    lambda: control.IncrementalPIController(control.HybridAnnealingSetPoint(0.5, 1.0, 4, 2, 9.0))])
def test_controllers_stay_float32_under_mixed_bfloat16(make):
  """Under a global `mixed_bfloat16` policy a controller gives bit for bit the float32 results
  (bfloat16 would read the KL 20.05 as 20.0, and TensorFlow refused the mixed dtypes), through
  `update` as the models call it and through `__call__` as the callbacks do."""
  kls = [20.05, 20.07, 20.11, 19.99, 20.03, 20.2, 19.7]
  reference, reference_called = make(), make()
  previous = keras.mixed_precision.dtype_policy()
  keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
  try:
    mixed, mixed_called = make(), make()
    for kl in kls:
      assert as_floats(mixed.update(kl)) == as_floats(reference.update(kl))
      assert float(to_numpy(mixed_called(kl))) == float(to_numpy(reference_called(kl)))
  finally:
    keras.mixed_precision.set_dtype_policy(previous)
  assert as_floats(mixed.last_logs()) == as_floats(reference.last_logs())
  assert mixed.dtype_policy.name == "float32"
  # float32 state (the step counter is int32, exact at any step count)
  assert all(v.dtype == ("int32" if v.name == "step" else "float32") for v in mixed.variables)


def test_state_with_another_layout_is_refused():
  """A saved controller state must have exactly the variables of the class that loads it."""
  with pytest.raises(ValueError):
    control.IncrementalPIController().load_own_variables(
        {str(i): np.float32(1.0) for i in range(4)})
  with pytest.raises(ValueError):
    control.MovingAverage(5).load_own_variables({"0": np.zeros(5, np.float32), "1": np.float32(1.0)})
