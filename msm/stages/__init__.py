"""Stage builders: each turns a job's settings and its inputs into a :class:`msm.store.Build`.

Every builder reads the same way: the *settings* that shape its output, the keys of its *inputs*,
the *VERSION* of the code that makes it (kept beside that code), and the *build* function the store
runs when no artifact has that key yet. A key is a hash of those four, so jobs that share an input
(four seeds sharing a corpus, two specs sharing an AFT-only model) build it once, a rerun builds
nothing, and editing code, a prompt file or a chat template (and bumping its version) rebuilds
exactly what depends on it.

- :mod:`msm.stages.data`: the document corpus and the AFT pool (and the paid-call preview);
- :mod:`msm.stages.models`: the base model, the midtrained and the aligned model;
- :mod:`msm.stages.evals`: eval results per model, and reading them back;
- :mod:`msm.stages.checks`: everything a job can check before it spends anything.

The modules that do the work (``msm.data``, ``msm.train``, ``msm.evals``) never see the store: these
functions hand them folders and turn what they publish into model references. The order in which
stages run is known only to ``msm.pipeline``.
"""
