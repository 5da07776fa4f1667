"""Read the repository's Dockerfile: its stages and their instructions, as Docker parses them.

Enough of the syntax for this Dockerfile: full-line comments (also inside a continued
instruction), backslash continuations, `FROM ... AS name` stages, shell-form RUN, `KEY=value`
ENV and exec-form CMD. `devtools.image_tree` takes the image's environment and command from
it; `tests/image/test_dockerfile_contract.py` holds the build stage's commands to the builder's.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import attrs

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO_ROOT / "Dockerfile"


@attrs.frozen
class Instruction:
    """One instruction, continuations joined: `RUN`, `pip install ...`."""

    keyword: str
    arguments: str


@attrs.frozen
class Stage:
    """The instructions from one FROM to the next; `name` is its `AS` name, or ""."""

    name: str
    instructions: tuple[Instruction, ...]

    def arguments(self, keyword: str) -> list[str]:
        """The arguments of every `keyword` instruction of the stage, in order."""
        return [i.arguments for i in self.instructions if i.keyword == keyword]

    def commands(self) -> list[list[str]]:
        """Every command its RUN instructions run, as argv lists (`a && b` is two commands)."""
        commands: list[list[str]] = []
        for run in self.arguments("RUN"):
            current: list[str] = []
            for word in shlex.split(run):
                if word == "&&":
                    commands.append(current)
                    current = []
                else:
                    current.append(word)
            commands.append(current)
        return commands

    def environment(self) -> dict[str, str]:
        """What its ENV instructions set (the `KEY=value` form only)."""
        environment: dict[str, str] = {}
        for env in self.arguments("ENV"):
            for word in shlex.split(env):
                name, separator, value = word.partition("=")
                if not separator:
                    raise ValueError(f"ENV {env!r}: only the KEY=value form is read")
                environment[name] = value
        return environment

    def command(self) -> list[str]:
        """The exec-form CMD (the last one wins, as in Docker)."""
        (*_, cmd) = self.arguments("CMD")
        words = json.loads(cmd)
        if not (isinstance(words, list) and all(isinstance(w, str) for w in words)):
            raise ValueError(f"CMD {cmd!r} is not the exec form")
        return words


def stages(text: str) -> list[Stage]:
    """The stages of a Dockerfile, in order (ARGs before the first FROM belong to none)."""
    found: list[Stage] = []
    name, current = "", list[Instruction]()
    for instruction in _instructions(text):
        if instruction.keyword == "FROM":
            if current:
                found.append(Stage(name, tuple(current)))
            words = instruction.arguments.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else ""
            current = [instruction]
        elif current:
            current.append(instruction)
    if current:
        found.append(Stage(name, tuple(current)))
    return found


def read(path: Path = DOCKERFILE) -> list[Stage]:
    """The stages of the Dockerfile at `path` (default: the repository's)."""
    return stages(path.read_text(encoding="utf-8"))


def _instructions(text: str) -> list[Instruction]:
    instructions: list[Instruction] = []
    pending: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # a comment ends nothing: Docker drops it even inside a continuation
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line)
        keyword, _, arguments = " ".join(pending).partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
        pending = []
    if pending:
        raise ValueError("the Dockerfile ends inside a continued instruction")
    return instructions
