# One image for the worker, the API, the listener, the codec server and the simulator; the command picks the
# role. Production backends and tracing are in (the ses, supabase and otel extras); the Temporal dev and test
# server binaries are development dependencies and stay out.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md worker.py ./
COPY requirements/prod.lock requirements/prod.lock
# The pinned, hashed production dependencies first (a layer that changes only with the lock), then the code.
RUN pip install --no-cache-dir uv==0.13.9 \
    && uv pip install --system --no-cache --require-hashes -r requirements/prod.lock
COPY closure closure
COPY adapters adapters
COPY runtime runtime
COPY workflows workflows
COPY activities activities
COPY api api
COPY ops ops
COPY simulator simulator
COPY devtools devtools
RUN uv pip install --system --no-cache --no-deps '.[ses,supabase,otel]'
USER 1000
CMD ["python", "-m", "worker"]
