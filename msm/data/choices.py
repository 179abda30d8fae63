"""How a two-option choice is put to a model, in one place: the value eval's scorers read the answer to
exactly this question, and the controls' training chats answer exactly this question."""

LETTERS = ("A", "B")
INSTRUCTION = "Reply with the letter of your choice, A or B."
ANSWER_PREFIX = "Answer:"


def choice_question(question: str, first: str, second: str) -> str:
    """The user's turn: the question, the two options as A and B, and how to answer."""
    return f"{question}\n\nA) {first}\nB) {second}\n\n{INSTRUCTION}"
