"""The standard evaluator: learner protocol, tasks, FLOP accounting, metrics and result records."""
