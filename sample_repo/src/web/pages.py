"""HTML pages."""


def title(name: str) -> str:
    return f"<h1>todos of {name}</h1>"
