# pipeline-guard as a GitHub Docker container action (and a plain image for any CI).
#
# GitHub builds this file at the start of every job that uses the action, so it is written
# to build fast and to start fast:
# - two stages: the build stage makes a pip-less virtual environment; the final image carries
#   only that environment, git (the fixers read the checkout with it) and a warm rule cache;
# - the dependencies get their own layer, so a change to the code does not download them again;
# - the modules the entrypoint imports are byte-compiled at build time: every job starts a
#   fresh container, which would otherwise compile them again on each start.
# Pinned: the base image by Python minor version and Debian release (`python:3.11-slim` now
# follows a newer Debian release, whose git version differs), git by its upstream version
# (`2.39.*`: Debian's security updates of 2.39 still install, a stale exact pin would not).
# The entrypoint runs as root on purpose: GitHub requires it for Docker actions (the
# workspace and file-command files belong to the runner's user).
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
 && python -m venv --without-pip /opt/pipeline-guard \
 && python -m pip --python /opt/pipeline-guard/bin/python install --no-cache-dir --no-compile -r requirements.txt
COPY README.md ./
COPY src ./src
COPY rules ./rules
RUN python -m pip --python /opt/pipeline-guard/bin/python install --no-cache-dir --no-compile --no-deps .

FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="pipeline-guard" \
      org.opencontainers.image.description="Diagnoses failed CI jobs; retries, comments, opens fix PRs" \
      org.opencontainers.image.licenses="MIT"
# No docs, man pages or translations from apt (what Debian's slim images already configure).
RUN printf '%s\n' 'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright' \
      'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/info/*' \
      'path-exclude=/usr/share/locale/*' > /etc/dpkg/dpkg.cfg.d/pipeline-guard-slim \
 && apt-get update \
 && apt-get install -y --no-install-recommends 'git=1:2.39.*' \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* \
 && git config --system --add safe.directory '*'
COPY --from=build /opt/pipeline-guard /opt/pipeline-guard
ENV PATH=/opt/pipeline-guard/bin:$PATH \
    PIPELINE_GUARD_CACHE_DIR=/opt/pipeline-guard/cache \
    PYTHONUNBUFFERED=1
# Byte-compile pipeline-guard and everything the entrypoint imports on GitHub and GitLab
# (standard library included: the official image ships it without .pyc files).
RUN python -m compileall -q -j 0 --invalidation-mode unchecked-hash \
      /opt/pipeline-guard/lib/python3.11/site-packages/pipeline_guard \
 && python -c "import pipeline_guard.main, pipeline_guard.commands.run, pipeline_guard.forges.github, pipeline_guard.forges.gitlab, github, gitlab, httpx, requests" \
 && pipeline-guard rules list > /dev/null
# Nothing to gain from writing .pyc files at run time: each job's container is thrown away.
ENV PYTHONDONTWRITEBYTECODE=1
ENTRYPOINT ["pipeline-guard", "run"]
