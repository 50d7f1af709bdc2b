"""The service's middlewares, one a module (as Starlette keeps its own): each wraps every
request, so each stays as light as it can."""

from app.middleware.access_log import AccessLogMiddleware
from app.middleware.body_size import BodySizeLimitMiddleware

__all__ = ["AccessLogMiddleware", "BodySizeLimitMiddleware"]
