"""The data bucket's layout: which key prefix holds what, and who writes it (the README documents the same).

Training CSVs go under training/input/ (users; new objects there can start retraining); the TrainingData function
writes a manifest of them under training/manifests/, named by the listing's digest; every pipeline execution writes
under pipeline/ (preprocessed data, models, evaluation); scoring reads rows under the `scoring_input_prefix` setting
(scoring/input/{date}/ by default), writes predictions under `scoring_output_prefix` (scoring/output/) and records the
alerts it sent under scoring/alerts/; each scoring job's drift check writes
scoring/drift/<transform job name>/drift.json. Manifests and pipeline outputs sit outside training/input/, so they never
trigger retraining."""

TRAINING_INPUT_PREFIX = "training/input/"
MANIFEST_PREFIX = "training/manifests/"
PIPELINE_PREFIX = "pipeline/"
SENT_ALERTS_PREFIX = "scoring/alerts/"
DRIFT_PREFIX = "scoring/drift/"
