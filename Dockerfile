# The territory optimizer's HTTP service: `territory serve` (uvicorn) on port 8000, as a non-root user.
#
#   docker build -t territory .
#   docker run -p 8000:8000 -v territory-data:/data territory      # SQLite file in the volume
#   docker run -p 8000:8000 -e DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/DB territory
#
# The first start prints an API key for the sales_ops role (see `docker logs`). The command line works
# too: `docker run territory keys create --role leadership`, or `territory plan ...` with mounted files.
FROM python:3.11-slim

RUN useradd --create-home --uid 10001 planner && mkdir /data && chown planner /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY optimizer ./optimizer
COPY api ./api
COPY data ./data
RUN pip install --no-cache-dir .
# numba compiles the exact search for capacity-only plans on its first use, which takes about 12 s
# of that solve's time limit. It is compiled here instead, into a cache the service user may also
# write: a host with another processor model compiles it once more on first use. It runs from /,
# so that it imports the installed package, as the service does, not the sources in /app.
ENV NUMBA_CACHE_DIR=/opt/numba-cache
RUN mkdir /opt/numba-cache && cd / \
    && python -c "from optimizer.solve.lagrangian import compile_search; compile_search()" \
    && chown -R planner /opt/numba-cache

USER planner
WORKDIR /data
VOLUME ["/data"]
ENV DATABASE_URL=sqlite:////data/territory.db
EXPOSE 8000
ENTRYPOINT ["territory"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
