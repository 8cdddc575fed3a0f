"""REST API routers, one per resource; :mod:`hullscan.server.app` includes them all."""
