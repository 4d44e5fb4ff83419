"""The FastAPI app: pages, JSON API, SSE streams and operations endpoints."""
