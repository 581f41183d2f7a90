"""A learner shipped as a package (evaluated as ``trustpkg.learner:make_learner``), for the tests of
``submit --code <package dir>`` and of verification from a stored package."""
