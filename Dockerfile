# pipeline-guard as a GitHub Docker container action (and a plain image for any CI).
# Two stages: the build stage installs the wheel into a virtual environment; the final image
# carries only that environment, git (fixers read the checkout with it) and a warm rule cache,
# so the entrypoint starts in well under a second.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
COPY rules ./rules
RUN python -m venv /opt/pipeline-guard \
 && /opt/pipeline-guard/bin/pip install --no-cache-dir --disable-pip-version-check . \
 && find /opt/pipeline-guard -name '__pycache__' -prune -exec rm -rf {} +

FROM python:3.11-slim
LABEL org.opencontainers.image.title="pipeline-guard" \
      org.opencontainers.image.description="Diagnoses failed CI jobs; retries, comments, opens fix PRs" \
      org.opencontainers.image.licenses="MIT"
RUN apt-get update \
 && apt-get install -y --no-install-recommends git=1:2.39.5-0+deb12u3 \
 && rm -rf /var/lib/apt/lists/* \
 && git config --system --add safe.directory '*'
COPY --from=build /opt/pipeline-guard /opt/pipeline-guard
ENV PATH=/opt/pipeline-guard/bin:$PATH \
    PIPELINE_GUARD_CACHE_DIR=/opt/pipeline-guard/cache \
    PYTHONUNBUFFERED=1
# Compile the bytecode and validate the bundled rules once, at build time (cold start).
RUN python -m compileall -q /opt/pipeline-guard/lib \
 && pipeline-guard rules list > /dev/null
ENTRYPOINT ["pipeline-guard", "run"]
