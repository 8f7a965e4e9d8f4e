"""REST API (FastAPI) over the shop's services; `create_app` builds it."""
