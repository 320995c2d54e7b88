"""Pages of a list: ``?limit=&offset=``, with a bound on the limit so that no request asks the
database for more rows than it can count (``?limit=9223372036854775808``)."""
from rest_framework.pagination import LimitOffsetPagination

MAX_LIMIT = 10_000


class LabPagination(LimitOffsetPagination):
    max_limit = MAX_LIMIT  # a larger limit is clamped to it, as the schema says
    limit_query_description = (f"Number of results to return per page (default 50, at most {MAX_LIMIT}; "
                               "a larger limit is clamped to it).")
    offset_query_description = "The initial index from which to return the results (from 0)."

