"""A small inspect_ai task written for msm's tests: its scores do not depend on what the model answers.

Sample ``i`` of ``n`` scores ``C`` when ``i`` is even and ``I`` when odd; sample 3 raises in the scorer (an
errored sample: a failure, never a no). A test therefore knows every rate in advance: with n=5 the
scored samples are 0, 1, 2 and 4, so the rate is 3/4 with n=4 and 1 failure, per epoch and condition.
``word`` only changes the prompt, so a grid over it gives conditions with the same rates.
"""

from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import CORRECT, INCORRECT, Score, Target, accuracy, scorer
from inspect_ai.solver import TaskState, generate


@scorer(metrics=[accuracy()])
def parity():
    async def score(state: TaskState, target: Target) -> Score:
        i = state.metadata["i"]
        if i == 3:
            raise RuntimeError("sample 3 fails on purpose")
        return Score(value=CORRECT if i % 2 == 0 else INCORRECT, explanation=f"sample {i} is {'even' if i % 2 == 0 else 'odd'}")

    return score


@task
def probe(n: int = 5, word: str = "cheese"):
    return Task(dataset=[Sample(input=f"Say {word} {i}.", id=f"s{i}", metadata={"i": i}) for i in range(n)],
                solver=[generate()], scorer=parity(), version=1)
