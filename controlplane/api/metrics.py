"""The API's Prometheus metrics (served with the rest of the process's at `/metrics`, see `health`).

Metrics are module-level: one set per process however many apps are created (the tests create
many). `procplane serve` runs the API and the reconciler in one process, so its `/metrics`
carries the reconciler's series too. Each procplane process is one uvicorn worker, so a scrape of
a pod's `/metrics` is that pod's whole story; replicas are scraped one by one."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# The `_created` series (when each labelled series appeared) would only double what is scraped.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Requests whose path matched no route are counted under this route label, so a scan of random
# paths cannot grow the number of series.
UNMATCHED_ROUTE = "unmatched"

HTTP_REQUESTS = Counter(
    "procplane_http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "procplane_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by method, route template and status code.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HTTP_IN_FLIGHT = Gauge("procplane_http_requests_in_flight", "HTTP requests being served now.")
RATE_LIMIT_REFUSALS = Counter(
    "procplane_rate_limit_refusals_total", "Requests refused 429 rate_limited, by budget (scope).", ["scope"]
)
OVERLOAD_SHED = Counter(
    "procplane_http_requests_shed_total",
    "Requests refused 503 unavailable because the process served its maximum of requests at once.",
)
