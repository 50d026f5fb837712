# Two stages: the first builds the wheel from the source tree, the second installs only that wheel
# (and its dependencies from PyPI) into a clean image, so no source tree is copied into what runs.
# The migrations and the casbin policies ship inside the package (resolute/migrations,
# resolute/policies), so `resolute migrate` and the default policy dir work from site-packages.

FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml setup.py README.md ./
COPY api ./api
COPY schema ./schema
COPY migrations ./migrations
COPY policies ./policies
RUN pip wheel --no-deps --wheel-dir /dist .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY --from=build /dist /tmp/dist
RUN pip install /tmp/dist/*.whl && rm -rf /tmp/dist \
    && useradd --system --home-dir /app --shell /usr/sbin/nologin resolute \
    && mkdir -p /app && chown resolute:resolute /app
# The working directory only matters for the defaults (a SQLite file and a development JWT secret
# under ./var); compose sets RESOLUTE_DATABASE_URL and RESOLUTE_JWT_SECRET, so nothing is written.
WORKDIR /app
USER resolute
ENV RESOLUTE_HOST=0.0.0.0 RESOLUTE_PORT=8000
EXPOSE 8000
CMD ["resolute", "serve", "--host", "0.0.0.0", "--port", "8000"]
