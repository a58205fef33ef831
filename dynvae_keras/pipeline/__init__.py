"""The disentanglement_lib pipeline and the experiments built on it.

`train` (the training driver, `dynvae train`) with its `callbacks` and `data_parallel` scope;
`study` (sweeps of train → postprocess → evaluate, `dynvae study`) and `report` (a study's
tables and figures, `dynvae report`); `calibrate` (schedules for a step budget) and `demo`
(`dynvae demo`). These modules sit above data, models, control, export and evaluation and are
imported by nothing below them; importing `train` or `study` registers their gin
configurables (`model.*`, `study.*`).
"""
