# The notifier function's image (the last stage, `function`): `sam build` builds it for
# template.yaml, `make build` and `docker compose up` for local runs. The `tools` stage is the
# local tooling compose runs beside it (`python -m devtools provision|serve`): the same
# dependencies and package plus `devtools/`, which never enters the function's image.
# README.md "Run it in containers" says how.
#
# The AWS Lambda base image brings Python 3.12, the runtime interface client that calls the
# handler in Lambda, and the Runtime Interface Emulator that serves the Invoke API on port 8080
# when the image runs anywhere else.
ARG BASE_IMAGE=public.ecr.aws/lambda/python:3.12

# Build stage: the same base, so the wheels and the byte code match the runtime's Python.
FROM ${BASE_IMAGE} AS build

# Runtime dependencies only, every one pinned and hashed (`make lock` writes the file), as
# wheels: nothing is compiled, so no build tools are needed.
COPY requirements/lambda.txt /tmp/requirements.txt
RUN python3 -m pip install --no-cache-dir --disable-pip-version-check --no-compile \
        --require-hashes --only-binary=:all: --target /opt/deps -r /tmp/requirements.txt

COPY notifier/ /opt/app/notifier/

# Byte code written now, because Lambda's file system is read-only: checked against a hash of
# the source rather than its mtime, which copying between stages need not keep. Read access
# for everyone: Lambda runs the handler as a user other than the owner of these files.
RUN python3 -m compileall -q -j 0 --invalidation-mode checked-hash /opt/deps /opt/app \
    && chmod -R a+rX /opt/deps /opt/app

# Local tooling for compose: the function's tree plus devtools/ (provision, the SQS runner).
FROM ${BASE_IMAGE} AS tools

COPY --from=build /opt/deps/ ${LAMBDA_TASK_ROOT}/
COPY --from=build /opt/app/ ${LAMBDA_TASK_ROOT}/
COPY devtools/ ${LAMBDA_TASK_ROOT}/devtools/
WORKDIR ${LAMBDA_TASK_ROOT}
ENTRYPOINT ["python3", "-m", "devtools"]
CMD ["--help"]

# The function: the base image plus two layers, dependencies first (they change least). Last,
# so that a build without --target (sam build, docker build .) makes this one.
FROM ${BASE_IMAGE} AS function

COPY --from=build /opt/deps/ ${LAMBDA_TASK_ROOT}/
COPY --from=build /opt/app/ ${LAMBDA_TASK_ROOT}/

# The base image's working directory already; stated because `python3 -m notifier invoke` and
# `suppression` (the operations commands) find the package through it.
WORKDIR ${LAMBDA_TASK_ROOT}

# glibc malloc: buffers of 128 KiB and more are mmap'd and returned to the system when freed, and
# two arenas instead of one per send thread. Without this, a batch of large messages sent one at
# a time still leaves each thread's high-water mark resident (bench/RESULTS.md, memory row).
ENV MALLOC_MMAP_THRESHOLD_=131072 \
    MALLOC_ARENA_MAX=2

CMD ["notifier.entrypoints.lambda_handler.handler"]
