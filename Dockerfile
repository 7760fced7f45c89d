# pipeline-guard as a GitHub Docker container action (and a plain image for any CI).
#
# A release pushes this image (ghcr.io, the GitLab registry) and the tagged action.yml starts it;
# `uses:` of a branch builds this file at the start of the job. docs/numbers.md asks for an
# image of at most 200 MB whose entrypoint is ready within a second. Hence:
# - two stages: the build stage makes the virtual environment; the final image carries only
#   that environment, the git binary and a warm rule cache, and runs no apt-get at all;
# - the dependencies get their own layer, so a change to the code does not download them again;
# - git: only /usr/bin/git. Every git command pipeline-guard runs (status, ls-files, diff,
#   rev-parse, checkout) is built into that binary, which needs only libc, zlib and pcre2 (all
#   in the base image). Debian's git package would add 85 MB (perl, curl, helper programs);
# - the environment sees the base image's site-packages, for pip alone: fixers install pinned
#   formatters (black, ruff...) with `python -m pip`, each into its own environment under the
#   cache directory; a second copy of pip in the environment would cost another 9 MB;
# - the modules the entrypoint imports are byte-compiled at build time: every job starts a
#   fresh container, which would otherwise compile them again on each start.
# Pinned: the dependencies by version and hash (docker/requirements.txt, compiled from
# pyproject.toml with `uv pip compile --generate-hashes`; tests/packaging/test_image_lock.py
# keeps the two in step), the build backend too (docker/build-requirements.txt: hatchling is
# installed in the build stage only, and pipeline-guard is built without build isolation, which
# would fetch whatever hatchling is newest), the base image by Python minor version and Debian
# release (`python:3.11-slim` now follows a newer Debian release), git by its upstream version
# (`2.39.*` still takes Debian's security updates of 2.39, which an exact pin would turn into a
# build failure once superseded).
# No USER: GitHub runs Docker actions as root (the workspace and the file-command files belong
# to the runner's user); hence also git's `safe.directory`.
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN apt-get update \
 && apt-get install -y --no-install-recommends 'git=1:2.39.*' \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY docker/requirements.txt ./
RUN python -m venv --system-site-packages --without-pip /opt/pipeline-guard \
 && python -m pip --python /opt/pipeline-guard/bin/python install --no-cache-dir --no-compile \
      --require-hashes --no-deps -r requirements.txt
COPY docker/build-requirements.txt ./
RUN python -m pip install --no-cache-dir --no-compile --require-hashes --no-deps \
      -r build-requirements.txt
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
COPY rules ./rules
RUN python -m pip --python /opt/pipeline-guard/bin/python install --no-cache-dir --no-compile \
      --no-deps --no-build-isolation . \
 && find /opt/pipeline-guard -name __pycache__ -prune -exec rm -rf {} +

FROM python:3.11-slim-bookworm
# The release passes the version (scripts/release.py check-tag, from __version__), the commit and
# the repository it publishes from; a plain build says what it is not: a release.
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=https://github.com/pipeline-guard/pipeline-guard
LABEL org.opencontainers.image.title="pipeline-guard" \
      org.opencontainers.image.description="Diagnoses failed CI jobs; retries, comments, opens fix PRs" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="$SOURCE" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.revision="$REVISION"
COPY --from=build /usr/bin/git /usr/bin/git
COPY --from=build /opt/pipeline-guard /opt/pipeline-guard
ENV PATH=/opt/pipeline-guard/bin:$PATH \
    PIPELINE_GUARD_CACHE_DIR=/opt/pipeline-guard/cache \
    PYTHONUNBUFFERED=1
# Byte-compile pipeline-guard and whatever the entrypoint imports on GitHub and GitLab (the
# standard library too: the official image ships without .pyc files), and fill the rule cache.
RUN git config --system --add safe.directory '*' \
 && python -m compileall -q -j 0 --invalidation-mode unchecked-hash \
      /opt/pipeline-guard/lib/python3.11/site-packages/pipeline_guard \
 && python -c "import pipeline_guard.cli.main, pipeline_guard.cli.commands.run, pipeline_guard.forges.github, pipeline_guard.forges.gitlab, github, gitlab, requests, httpx; httpx.Client().close()" \
 && pipeline-guard rules list > /dev/null
# Nothing to gain from writing .pyc files at run time: each job's container is thrown away.
ENV PYTHONDONTWRITEBYTECODE=1
ENTRYPOINT ["pipeline-guard", "run"]
