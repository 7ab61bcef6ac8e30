"""Domain errors get their HTTP status in one place, and none is left out of it."""

from __future__ import annotations

from controlplane.api.problems import HTTP_STATUS, problem_response
from controlplane.domain.errors import DomainError, NotFound, PlanLimitReached, RateLimited, ServiceUnavailable


def test_every_domain_error_has_an_http_status() -> None:
    assert set(DomainError.__subclasses__()) == set(HTTP_STATUS)


def test_a_problem_carries_the_status_its_kind_maps_to_and_its_extra_members() -> None:
    response = problem_response(PlanLimitReached("at most 20", scope="per_application", limit=20))
    assert response.status_code == 402
    assert response.content["status"] == 402
    assert (response.content["scope"], response.content["limit"]) == ("per_application", 20)
    assert problem_response(NotFound("gone")).status_code == 404


def test_a_refusal_for_now_tells_when_to_retry_in_the_body_and_the_header() -> None:
    response = problem_response(ServiceUnavailable("busy", retry_after=2))
    assert response.status_code == 503
    assert (response.content["code"], response.content["retry_after"]) == ("unavailable", 2)
    assert response.headers["Retry-After"] == "2"


def test_a_refusal_that_says_when_to_retry_says_it_in_retry_after() -> None:
    limited = problem_response(RateLimited("slow down", scope="reads", limit=400, retry_after=17))
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "17"
    assert (limited.headers["RateLimit-Limit"], limited.headers["RateLimit-Remaining"]) == ("400", "0")
    busy = problem_response(ServiceUnavailable("busy", retry_after=1))
    assert (busy.status_code, busy.content["code"], busy.headers["Retry-After"]) == (503, "unavailable", "1")
    assert "Retry-After" not in problem_response(NotFound("gone")).headers
