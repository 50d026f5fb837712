FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY api ./api
COPY schema ./schema
COPY policies ./policies
COPY migrations ./migrations
RUN pip install --no-cache-dir -e . && useradd --system resolute
USER resolute
ENV RESOLUTE_POLICY_DIR=/app/policies RESOLUTE_HOST=0.0.0.0 RESOLUTE_PORT=8000
EXPOSE 8000
CMD ["resolute", "serve", "--host", "0.0.0.0", "--port", "8000"]
