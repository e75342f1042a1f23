"""The web dashboard and scoring API over a segwise store.

:func:`create_app` builds the application (FastAPI) from a store, a token and the models
to serve; ``segwise serve`` hands it to uvicorn. Pages are rendered on the server from the
page functions in :mod:`segwise.web._pages`, each with a JSON twin under ``/api``; charts
are drawn by plotly.js served from this server, so the dashboard works with no internet.
"""

from segwise.web._app import DEFAULT_MAX_BODY, create_app
from segwise.web._scoring import (
    AssignerScorer,
    Scorer,
    ScoreRequest,
    ScoreResponse,
    scorers_for,
)

__all__ = [
    "DEFAULT_MAX_BODY",
    "AssignerScorer",
    "ScoreRequest",
    "ScoreResponse",
    "Scorer",
    "create_app",
    "scorers_for",
]
