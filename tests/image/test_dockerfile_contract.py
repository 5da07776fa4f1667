"""The builder builds what the Dockerfile builds: the same pip and compileall flags, both ways.

The Dockerfile's build stage is read as data (`devtools.dockerfile`) and its commands compared
with the builder's (`devtools.image_tree`): a flag added to, dropped from or changed on either
side fails here, naming the flag and the side it is on. The few differences allowed are listed
below with their reasons. Needs neither a build nor a network.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import attrs
import pytest

from devtools import dockerfile, image_tree

HANDLER = "notifier.entrypoints.lambda_handler.handler"
PIP_VALUE_OPTIONS = frozenset(
    {"-r", "--requirement", "-t", "--target", "--only-binary", "--no-binary", "--platform"}
    | {"--implementation", "--python-version", "--abi", "--cache-dir", "-c", "--constraint"}
)
COMPILEALL_VALUE_OPTIONS = frozenset({"-j", "--invalidation-mode", "-d", "-s", "-p", "-x", "-i"})
# Where pip reads and writes: compared by the layout test, not as flags.
PIP_LOCATIONS = frozenset({"-r", "--requirement", "-t", "--target"})
# In the Dockerfile only: the image is built once from nothing, the tests rebuild in seconds
# from pip's cache. What is installed does not change: the lock's hashes check every wheel.
DOCKERFILE_ONLY_PIP = frozenset({"--no-cache-dir"})
PYTHON = re.compile(r"python3?(\.\d+)?")


@attrs.frozen
class Command:
    """One command's flags (`--name` or `--name=value`), where it reads and writes, and its
    positional arguments."""

    flags: frozenset[str]
    locations: dict[str, str]
    positionals: tuple[str, ...]


def parse(words: Sequence[str], *, value_options: frozenset[str]) -> Command:
    flags, locations, positionals = set(), {}, []
    rest = list(words)
    while rest:
        word = rest.pop(0)
        name, has_value, value = word.partition("=")
        if not word.startswith("-"):
            positionals.append(word)
            continue
        if not has_value and name in value_options:
            value = rest.pop(0)
            has_value = "="
        if name in PIP_LOCATIONS:
            locations[name.lstrip("-")[0]] = value  # "r" or "t", whichever spelling
        else:
            flags.add(f"{name}={value}" if has_value else name)
    return Command(frozenset(flags), locations, tuple(positionals))


def build_stage_command(stage: dockerfile.Stage, module: str, *subcommand: str) -> list[str]:
    """The words after `python3 -m MODULE SUBCOMMAND...` in the build stage's RUN lines."""
    prefix = ["-m", module, *subcommand]
    found = [
        command[1 + len(prefix) :]
        for command in stage.commands()
        if command and PYTHON.fullmatch(command[0]) and command[1 : 1 + len(prefix)] == prefix
    ]
    assert len(found) == 1, f"the build stage runs `python3 -m {module}` once: {found}"
    return found[0]


def after(words: Sequence[str], marker: str) -> list[str]:
    return list(words[list(words).index(marker) + 1 :])


def drift(
    dockerfile_flags: frozenset[str],
    builder_flags: frozenset[str],
    *,
    dockerfile_only: frozenset[str] = frozenset(),
    builder_only: frozenset[str] = frozenset(),
) -> list[str]:
    """Every flag on one side only, beyond those allowed there."""
    return [
        *(f"{f}: in the Dockerfile only" for f in sorted(dockerfile_flags - builder_flags)
          if f not in dockerfile_only),
        *(f"{f}: in the builder only" for f in sorted(builder_flags - dockerfile_flags)
          if f not in builder_only),
    ]  # fmt: skip


def contract_problems(
    dockerfile_text: str, pip_words: Sequence[str], compileall_words: Sequence[str]
) -> list[str]:
    """How the Dockerfile's build stage and the builder's two commands disagree."""
    build = build_stage(dockerfile_text)
    docker_pip = parse(
        build_stage_command(build, "pip", "install"), value_options=PIP_VALUE_OPTIONS
    )
    builder_pip = parse(after(pip_words, "install"), value_options=PIP_VALUE_OPTIONS)
    target = parse(image_tree.TARGET_FLAGS, value_options=PIP_VALUE_OPTIONS).flags
    docker_compile = parse(
        build_stage_command(build, "compileall"), value_options=COMPILEALL_VALUE_OPTIONS
    )
    builder_compile = parse(
        after(compileall_words, "compileall"), value_options=COMPILEALL_VALUE_OPTIONS
    )
    return [
        *(
            f"pip {problem}"
            for problem in drift(
                docker_pip.flags,
                builder_pip.flags,
                dockerfile_only=DOCKERFILE_ONLY_PIP,
                builder_only=target,
            )
        ),
        *(
            f"compileall {problem}"
            for problem in drift(docker_compile.flags, builder_compile.flags)
        ),
    ]


def build_stage(text: str) -> dockerfile.Stage:
    (build,) = [stage for stage in dockerfile.stages(text) if stage.name == "build"]
    return build


def builder_pip_words() -> list[str]:
    return image_tree.pip_install_command(lock=Path("LOCK"), target=Path("DEPS"))


def builder_compileall_words() -> list[str]:
    return image_tree.compileall_command(Path("python3.12"), Path("DEPS"), Path("APP"))


def test_the_builder_passes_the_dockerfiles_pip_and_compileall_flags() -> None:
    """GIVEN the repository's Dockerfile and the builder
    WHEN their `pip install` and `compileall` commands are compared flag by flag
    THEN they agree, but for `--no-cache-dir` (Dockerfile) and the target platform (builder)."""
    text = dockerfile.DOCKERFILE.read_text(encoding="utf-8")

    problems = contract_problems(text, builder_pip_words(), builder_compileall_words())

    assert problems == [], "the builder and the Dockerfile disagree:\n" + "\n".join(problems)


def test_the_builder_targets_the_images_python_and_platform() -> None:
    """The flags only the builder has say: CPython 3.12 wheels for manylinux x86_64, binary only."""
    flags = parse(after(builder_pip_words(), "install"), value_options=PIP_VALUE_OPTIONS).flags

    assert {
        "--platform=manylinux2014_x86_64",
        "--implementation=cp",
        "--python-version=3.12",
        "--abi=cp312",
        "--only-binary=:all:",
    } <= flags


def test_the_builder_follows_the_dockerfiles_layout() -> None:
    """GIVEN the Dockerfile
    THEN its build stage installs requirements/lambda.txt into one directory, copies notifier/
    into another, compiles both, and its final stage copies deps then app into the task root
    and runs the handler: the steps and the order `build_image_tree` follows. The function's
    stage is the last one, what `docker build .` makes, whatever other stages there are."""
    text = dockerfile.DOCKERFILE.read_text(encoding="utf-8")
    build, final = build_stage(text), dockerfile.stages(text)[-1]
    pip = parse(build_stage_command(build, "pip", "install"), value_options=PIP_VALUE_OPTIONS)
    compiled = parse(
        build_stage_command(build, "compileall"), value_options=COMPILEALL_VALUE_OPTIONS
    )
    copies = [words.split() for words in build.arguments("COPY")]
    deps, app = pip.locations["t"], compiled.positionals[1]

    assert copies == [
        [str(image_tree.LOCK_FILE.relative_to(image_tree.REPO_ROOT)), pip.locations["r"]],
        [f"{image_tree.PACKAGE_DIR.name}/", f"{app}/{image_tree.PACKAGE_DIR.name}/"],
    ]
    assert compiled.positionals == (deps, app)
    assert final.arguments("COPY") == [
        f"--from=build {deps}/ ${{LAMBDA_TASK_ROOT}}/",
        f"--from=build {app}/ ${{LAMBDA_TASK_ROOT}}/",
    ]
    assert final.command() == [HANDLER]


@pytest.mark.parametrize(
    ("side", "old", "new", "problems"),
    [
        (
            "dockerfile",
            "--require-hashes ",
            "",
            ["pip --require-hashes: in the builder only"],
        ),
        ("dockerfile", "--no-compile", "--no-compile --pre", ["pip --pre: in the Dockerfile only"]),
        (
            "dockerfile",
            "--only-binary=:all:",
            "--only-binary :all:",  # the same flag, spelt apart: no drift
            [],
        ),
        (
            "dockerfile",
            "checked-hash",
            "timestamp",
            [
                "compileall --invalidation-mode=timestamp: in the Dockerfile only",
                "compileall --invalidation-mode=checked-hash: in the builder only",
            ],
        ),
        ("builder", "--no-compile", "", ["pip --no-compile: in the Dockerfile only"]),
        ("builder", "-q", "-qq", ["compileall -q: in the Dockerfile only",
                                 "compileall -qq: in the builder only"]),
    ],
)  # fmt: skip
def test_the_contract_fails_when_either_side_changes(
    side: str, old: str, new: str, problems: list[str]
) -> None:
    """GIVEN a Dockerfile or a builder command changed in one place
    WHEN the contract is checked
    THEN it names the flag and the side it is on (so the test above can fail)."""
    text = dockerfile.DOCKERFILE.read_text(encoding="utf-8")
    pip_words, compileall_words = builder_pip_words(), builder_compileall_words()
    if side == "dockerfile":
        assert old in text
        text = text.replace(old, new, 1)
    else:
        pip_words = [new if w == old else w for w in pip_words if new or w != old]
        compileall_words = [new if w == old else w for w in compileall_words if new or w != old]

    assert contract_problems(text, pip_words, compileall_words) == problems
