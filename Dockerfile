# One image for the worker, the API, the listener, the codec server and the simulator; the command picks the
# role. Production backends and tracing are in (the ses, supabase and otel extras); the Temporal dev and test
# server binaries are development dependencies and stay out.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md worker.py ./
COPY closure closure
COPY adapters adapters
COPY runtime runtime
COPY workflows workflows
COPY activities activities
COPY api api
COPY ops ops
COPY simulator simulator
COPY devtools devtools
RUN pip install --no-cache-dir '.[ses,supabase,otel]'
USER 1000
CMD ["python", "-m", "worker"]
