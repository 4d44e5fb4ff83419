# syntax=docker/dockerfile:1
# Multi-stage: build the wheel and the pinned browser assets, then a slim non-root runtime image.
FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --omit=dev

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY shopfloor ./shopfloor
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
RUN useradd --create-home --uid 10001 shopfloor
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY --from=assets /src/node_modules /opt/shopfloor/node_modules
ENV SHOPFLOOR_ASSETS_DIR=/opt/shopfloor/node_modules \
    SHOPFLOOR_HOST=0.0.0.0 \
    SHOPFLOOR_PORT=8000 \
    SHOPFLOOR_DATABASE_URL=sqlite:////home/shopfloor/shopfloor.db \
    PYTHONUNBUFFERED=1
USER shopfloor
WORKDIR /home/shopfloor
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
ENTRYPOINT ["shopfloor"]
CMD ["serve"]
