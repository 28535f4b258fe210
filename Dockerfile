# The territory optimizer's command line. The service issue adds `territory serve` on top of this image.
FROM python:3.11-slim

RUN useradd --create-home --uid 10001 planner
WORKDIR /app
COPY pyproject.toml README.md ./
COPY optimizer ./optimizer
COPY api ./api
COPY data ./data
RUN pip install --no-cache-dir .

USER planner
WORKDIR /home/planner
ENTRYPOINT ["territory"]
CMD ["demo", "--out", "/home/planner/out/demo"]
