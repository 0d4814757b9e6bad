"""User records for the todo service."""

USERS: dict[int, str] = {1: "ada", 2: "linus"}


def name_of(user_id: int) -> str:
    return USERS.get(user_id, "unknown")
