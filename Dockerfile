# whence image (CLI and API): the embedded SQLite index lives in the /data volume; the Elasticsearch and
# OpenSearch clients are included for --index http(s)://... targets.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY whence whence
COPY index index
COPY scan scan
COPY generator generator
COPY cli cli
COPY api api
COPY lsp lsp
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[elastic]"

FROM python:3.11-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
ENV WHENCE_INDEX=/data/index.sqlite
VOLUME /data
ENTRYPOINT ["whence"]
CMD ["--help"]
