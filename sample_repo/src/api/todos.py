"""Todo items."""

TODOS: list[tuple[int, str]] = []


def add(user_id: int, text: str) -> int:
    TODOS.append((user_id, text))
    return len(TODOS)
