"""A helper module: the learner's prediction lives here, so the package digest must cover it."""
VALUE = 0.05
