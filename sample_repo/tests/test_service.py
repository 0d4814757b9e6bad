import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from src.api import todos, users  # noqa: E402
from src.web import pages  # noqa: E402

assert users.name_of(1) == "ada"
assert todos.add(1, "write docs") == 1
assert pages.title("ada").startswith("<h1>")
print("sample checks passed")
