"""The loopback Hugging Face Hub: what ``hearth bench download`` serves and the tests run against.

``server`` (:class:`BenchHub`: origins, repositories, what a subclass may change), ``repos`` (the
repository model and the Hub's JSON shapes), ``routes`` (the HTTP handler and ``Range`` parsing).
"""

from app.bench.hub.routes import UNSATISFIABLE, parse_range
from app.bench.hub.server import Answer, BenchHub, BodyPlan, RecordedRequest

__all__ = ["UNSATISFIABLE", "Answer", "BenchHub", "BodyPlan", "RecordedRequest", "parse_range"]
