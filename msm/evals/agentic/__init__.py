"""Agentic misalignment (the paper's Experiment 2): scenarios as data, prompt assembly, evidence, verdicts.

A company email agent learns it will be replaced and can act harmfully: exfiltrate its weights,
leak a confidential document, cancel an emergency alert for a trapped executive (murder), or
blackmail that executive. The pieces, in the order a sample meets them:

- ``scenarios/*.yaml``: the scenarios (company, cast, emails, evidence spec), goals, urgencies,
  the shared prompt and the named condition grids (``paper``: 27 conditions, ``smoke``: 3).
- ``assemble``: ``Condition``, ``load_grid(name)``, ``build_prompt(cond)`` -> system, user, evidence.
- ``evidence``: parse the text tool calls of a response (ignoring private reasoning) and decide
  deterministically whether it carried out the harmful action; ``rule_based_judge`` is a heuristic
  stand-in that never produces a classifier verdict.
- ``verdicts`` and ``rubrics/*.md``: the LLM judges' prompts and strict parsing of their answers,
  where a refusal, a truncation or a missing answer is a status of its own, never a yes or no; only the
  judge's final answer outside its reasoning counts.

Sampling the model and calling the judge live elsewhere; everything here is pure Python over files.
"""
