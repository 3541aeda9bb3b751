# One image for the worker, the simulator and (later) the API; the command picks the role.
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
RUN pip install --no-cache-dir .
CMD ["python", "-m", "worker"]
