"""Applications and their config vars over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.api.conftest import Api, assert_problem

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SECRET = "s3cr3t-value-that-must-never-leak"


def field_errors(body: dict[str, Any]) -> set[tuple[str, str]]:
    return {(e["field"], e["code"]) for e in body["errors"]}


@pytest.fixture(scope="module")
def target(module_api: Api) -> dict[str, Any]:
    """An application that the refused requests of this module must leave as it is."""
    return module_api.create_app("target", display_name="Target")


def assert_unchanged(api: Api, target: dict[str, Any]) -> None:
    listed = api.get("/v1/applications").json()
    assert listed["data"] == [target]
    assert api.get(f"/v1/applications/{target['id']}/config-vars").json() == {"keys": []}


def test_create_and_get(api: Api) -> None:
    response = api.post(
        "/v1/applications", json={"name": "shop", "display_name": "The Shop", "image": "ghcr.io/acme/shop:1.2.3"}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == {"id", "team_id", "name", "display_name", "namespace", "image", "created_at", "updated_at"}
    assert (created["name"], created["display_name"], created["image"]) == (
        "shop",
        "The Shop",
        "ghcr.io/acme/shop:1.2.3",
    )
    assert re.fullmatch(r"shop-[a-z0-9]{6}", created["namespace"])
    assert TIMESTAMP.match(created["created_at"])
    assert TIMESTAMP.match(created["updated_at"])
    fetched = api.get(f"/v1/applications/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created


def test_create_defaults(api: Api) -> None:
    response = api.post("/v1/applications", json={"name": "bare"})
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["display_name"] == "bare"
    assert created["image"] is None


def test_namespaces_are_unique_per_application(api: Api) -> None:
    namespaces = {api.create_app(f"app-{i}")["namespace"] for i in range(5)}
    assert len(namespaces) == 5
    assert all(re.fullmatch(r"app-\d-[a-z0-9]{6}", n) for n in namespaces)


def test_longest_name_makes_a_valid_namespace(api: Api) -> None:
    name = "a" * 30
    created = api.create_app(name)
    assert created["namespace"].startswith(f"{name}-")
    assert len(created["namespace"]) == 37


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("", "too_short"),
        ("a" * 31, "too_long"),
        ("My-App", "invalid_format"),
        ("my_app", "invalid_format"),
        ("-app", "invalid_format"),
        ("app-", "invalid_format"),
        ("my.app", "invalid_format"),
        ("my app", "invalid_format"),
        # The whole name must be a DNS label: a final newline is not ignored.
        ("my-app\n", "invalid_format"),
    ],
)
def test_name_rules(module_api: Api, target: dict[str, Any], name: str, code: str) -> None:
    response = module_api.post("/v1/applications", json={"name": name})
    body = assert_problem(response, 400, "validation_failed", "name")
    assert field_errors(body) == {("name", code)}
    assert_unchanged(module_api, target)


def test_duplicate_name(api: Api) -> None:
    first = api.create_app("shop")
    body = assert_problem(api.post("/v1/applications", json={"name": "shop"}), 409, "duplicate_application")
    assert body["field"] == "name"
    listed = api.get("/v1/applications").json()
    assert [a["id"] for a in listed["data"]] == [first["id"]]


@pytest.mark.parametrize(
    "image",
    [
        "nginx",
        "nginx:1.27",
        "library/nginx:latest",
        "ghcr.io/acme/shop:v1.2.3-rc.1",
        "registry.example.com:5000/team/app:2024_01",
        "docker.io/library/redis@sha256:" + "a" * 64,
        "quay.io/acme/api:1.0@sha256:" + "0123456789abcdef" * 4,
    ],
)
def test_valid_images(module_api: Api, target: dict[str, Any], image: str) -> None:
    created = module_api.create_app("img", image=image)
    assert created["image"] == image
    assert module_api.get(f"/v1/applications/{created['id']}").json()["image"] == image
    assert module_api.delete(f"/v1/applications/{created['id']}").status_code == 200
    assert_unchanged(module_api, target)


@pytest.mark.parametrize(
    ("image", "code"),
    [
        ("", "too_short"),
        ("Nginx", "invalid_format"),
        ("nginx:", "invalid_format"),
        ("nginx latest", "invalid_format"),
        ("nginx@sha256:abc", "invalid_format"),
        ("https://ghcr.io/acme/app", "invalid_format"),
        ("a/" * 256 + "a", "too_long"),
        ("nginx:1.27\n", "invalid_format"),
        # Tags are ASCII, as the OpenAPI document's pattern says.
        ("nginx:caf\u00e9", "invalid_format"),
    ],
)
def test_invalid_images(module_api: Api, target: dict[str, Any], image: str, code: str) -> None:
    response = module_api.post("/v1/applications", json={"name": "img", "image": image})
    body = assert_problem(response, 400, "validation_failed", "image")
    assert field_errors(body) == {("image", code)}
    assert_unchanged(module_api, target)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"name": "ok", "owner": "me"}, {("owner", "unknown_field")}),
        ({"name": "ok", "namespace": "ok-abcdef"}, {("namespace", "unknown_field")}),
        ({"display_name": "x"}, {("name", "required")}),
        ({"name": 7}, {("name", "invalid_type")}),
        ({"name": "ok", "image": 1}, {("image", "invalid_type")}),
        (
            {"name": "Bad", "display_name": "", "image": "Bad Image"},
            {
                ("name", "invalid_format"),
                ("display_name", "too_short"),
                ("image", "invalid_format"),
            },
        ),
        ({"name": "ok", "display_name": "x" * 256}, {("display_name", "too_long")}),
        ({"name": "ok", "display_name": "\x00"}, {("display_name", "invalid_character")}),
    ],
)
def test_create_refuses(
    module_api: Api, target: dict[str, Any], body: dict[str, Any], expected: set[tuple[str, str]]
) -> None:
    problem = assert_problem(module_api.post("/v1/applications", json=body), 400, "validation_failed")
    assert field_errors(problem) == expected
    assert_unchanged(module_api, target)


def test_patch_display_name_and_image(api: Api) -> None:
    app = api.create_app("shop")
    path = f"/v1/applications/{app['id']}"
    response = api.patch(path, json={"display_name": "Shop", "image": "nginx:1.28"})
    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["display_name"], changed["image"]) == ("Shop", "nginx:1.28")
    assert (changed["name"], changed["namespace"], changed["created_at"]) == (
        app["name"],
        app["namespace"],
        app["created_at"],
    )
    assert changed["updated_at"] >= app["updated_at"]
    assert api.get(path).json() == changed
    cleared = api.patch(path, json={"image": None}).json()
    assert cleared["image"] is None


def test_patch_with_the_same_name_is_harmless(api: Api) -> None:
    app = api.create_app("shop")
    response = api.patch(f"/v1/applications/{app['id']}", json={"name": "shop"})
    assert response.status_code == 200, response.text
    assert response.json() == app


def test_rename_is_refused(api: Api) -> None:
    app = api.create_app("shop")
    response = api.patch(f"/v1/applications/{app['id']}", json={"name": "store", "display_name": "Store"})
    body = assert_problem(response, 400, "validation_failed", "name")
    assert field_errors(body) == {("name", "immutable")}
    assert api.get(f"/v1/applications/{app['id']}").json() == app


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"display_name": ""}, {("display_name", "too_short")}),
        ({"image": "NOT AN IMAGE"}, {("image", "invalid_format")}),
        ({"namespace": "x"}, {("namespace", "unknown_field")}),
        ({"display_name": None}, {("display_name", "invalid_type")}),
    ],
)
def test_patch_refuses(
    module_api: Api, target: dict[str, Any], body: dict[str, Any], expected: set[tuple[str, str]]
) -> None:
    response = module_api.patch(f"/v1/applications/{target['id']}", json=body)
    assert field_errors(assert_problem(response, 400, "validation_failed")) == expected
    assert_unchanged(module_api, target)


def test_delete_cascades(api: Api) -> None:
    app = api.create_app("shop")
    base = f"/v1/applications/{app['id']}"
    web = api.create_process(app["id"], key="web", type="web")
    api.create_process(app["id"], key="worker", type="worker")
    assert api.patch(f"{base}/config-vars", json={"vars": {"DATABASE_URL": SECRET}}).status_code == 200
    assert api.delete(base).status_code == 200
    for path in (base, f"{base}/processes", f"{base}/processes/{web['id']}", f"{base}/config-vars"):
        assert_problem(api.get(path), 404, "not_found")
    assert_problem(api.delete(base), 404, "not_found")
    assert api.get("/v1/applications").json()["total"] == 0
    # The name is free again, and the new application starts empty.
    again = api.create_app("shop")
    assert again["id"] != app["id"]
    assert api.get(f"/v1/applications/{again['id']}/processes").json()["total"] == 0
    assert api.get(f"/v1/applications/{again['id']}/config-vars").json() == {"keys": []}


def test_delete_leaves_other_applications_alone(api: Api) -> None:
    keep = api.create_app("keep")
    kept = api.create_process(keep["id"], key="web", type="web")
    gone = api.create_app("gone")
    api.create_process(gone["id"], key="web", type="web")
    assert api.delete(f"/v1/applications/{gone['id']}").status_code == 200
    assert api.get(f"/v1/applications/{keep['id']}/processes/{kept['id']}").json() == kept


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"display_name": "x"}),
        ("DELETE", "", None),
        ("GET", "/config-vars", None),
        ("PATCH", "/config-vars", {"vars": {"A": "1"}}),
        ("GET", "/processes", None),
        ("POST", "/processes", {"key": "web", "type": "web"}),
        ("GET", "/processes/00000000-0000-4000-8000-000000000000", None),
    ],
)
def test_unknown_application(
    module_api: Api, target: dict[str, Any], method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    kwargs: dict[str, Any] = {} if body is None else {"json": body}
    response = module_api.request(method, f"/v1/applications/00000000-0000-4000-8000-000000000000{suffix}", **kwargs)
    body_out = assert_problem(response, 404, "not_found")
    assert body_out["type"] == "https://procplane.dev/problems/not-found"
    assert_unchanged(module_api, target)


@pytest.mark.parametrize("suffix", ["", "/processes", "/processes/%00", "/config-vars"])
def test_an_id_with_a_nul_character_is_not_found(module_api: Api, target: dict[str, Any], suffix: str) -> None:
    app = "%00" if "%00" not in suffix else target["id"]
    assert_problem(module_api.get(f"/v1/applications/{app}{suffix}"), 404, "not_found")
    assert_unchanged(module_api, target)


def test_list_and_pagination(api: Api) -> None:
    created = [api.create_app(f"app-{i}") for i in range(7)]
    listed = api.get("/v1/applications").json()
    assert listed == {"data": created, "total": 7, "offset": 0, "limit": 25}
    page = api.get("/v1/applications", params={"limit": 3, "offset": 2}).json()
    assert page == {"data": created[2:5], "total": 7, "offset": 2, "limit": 3}
    last = api.get("/v1/applications", params={"limit": 3, "offset": 6}).json()
    assert last["data"] == created[6:]
    beyond = api.get("/v1/applications", params={"offset": 10000}).json()
    assert beyond == {"data": [], "total": 7, "offset": 10000, "limit": 25}
    assert api.get("/v1/applications", params={"limit": 100}).json()["limit"] == 100
    assert api.get("/v1/applications", params={"limit": 1}).json()["data"] == created[:1]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"limit": 0}, {("limit", "out_of_range")}),
        ({"limit": 101}, {("limit", "out_of_range")}),
        ({"offset": 10001}, {("offset", "out_of_range")}),
        ({"offset": -1}, {("offset", "out_of_range")}),
        ({"limit": 0, "offset": 10001}, {("limit", "out_of_range"), ("offset", "out_of_range")}),
        ({"limit": "ten"}, {("limit", "invalid_type")}),
    ],
)
def test_pagination_bounds(
    module_api: Api, target: dict[str, Any], params: dict[str, Any], expected: set[tuple[str, str]]
) -> None:
    for path in ("/v1/applications", f"/v1/applications/{target['id']}/processes"):
        body = assert_problem(module_api.get(path, params=params), 400, "validation_failed")
        assert field_errors(body) == expected, path


# ---- config vars ----


def test_config_vars_set_unset_and_list_sorted(api: Api, app_id: str) -> None:
    path = f"/v1/applications/{app_id}/config-vars"
    assert api.get(path).json() == {"keys": []}
    response = api.patch(path, json={"vars": {"ZED": "1", "alpha": "2", "DATABASE_URL": SECRET, "_X": ""}})
    assert response.status_code == 200, response.text
    assert response.json() == {"keys": ["DATABASE_URL", "ZED", "_X", "alpha"]}
    assert api.get(path).json() == {"keys": ["DATABASE_URL", "ZED", "_X", "alpha"]}
    response = api.patch(path, json={"vars": {"ZED": None, "NEW": "v", "NEVER_SET": None}})
    assert response.json() == {"keys": ["DATABASE_URL", "NEW", "_X", "alpha"]}
    assert api.get(path).json() == {"keys": ["DATABASE_URL", "NEW", "_X", "alpha"]}


def test_config_var_values_are_never_returned(api: Api, app_id: str) -> None:
    process = api.create_process(app_id, key="web", type="web")
    base = f"/v1/applications/{app_id}"
    assert SECRET not in api.patch(f"{base}/config-vars", json={"vars": {"DATABASE_URL": SECRET}}).text
    # Replace it, so the old and the new value are both checked.
    assert SECRET not in api.patch(f"{base}/config-vars", json={"vars": {"TOKEN": SECRET + "-2"}}).text
    reads = [
        "/v1/applications",
        base,
        f"{base}/config-vars",
        f"{base}/processes",
        f"{base}/processes/{process['id']}",
        "/v1/resources/process-resource-types",
        "/v1/api-keys",
        "/schema/openapi.json",
    ]
    for path in reads:
        response = api.get(path)
        assert response.status_code == 200, path
        assert SECRET not in response.text, path
    assert SECRET not in api.patch(base, json={"display_name": "x"}).text


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"1ABC": "x"}, {("vars.1ABC", "invalid_format")}),
        ({"MY-VAR": "x"}, {("vars.MY-VAR", "invalid_format")}),
        ({"MY VAR": "x"}, {("vars.MY VAR", "invalid_format")}),
        ({"": "x"}, {("vars.", "invalid_format")}),
        ({"MY_VAR\n": "x"}, {("vars.MY_VAR\n", "invalid_format")}),
        ({"A" * 256: "x"}, {("vars." + "A" * 256, "too_long")}),
        ({"BIG": "x" * (32 * 1024 + 1)}, {("vars.BIG", "too_long")}),
        (
            {"OK": "fine", "9BAD": "x", "ALSO-BAD": None},
            {
                ("vars.9BAD", "invalid_format"),
                ("vars.ALSO-BAD", "invalid_format"),
            },
        ),
        ({}, {("vars", "required")}),
        ({"A": "x\x00y"}, {("vars.A", "invalid_character")}),
    ],
)
def test_config_vars_refuse(
    module_api: Api, target: dict[str, Any], changes: dict[str, Any], expected: set[tuple[str, str]]
) -> None:
    path = f"/v1/applications/{target['id']}/config-vars"
    body = assert_problem(module_api.patch(path, json={"vars": changes}), 400, "validation_failed")
    assert field_errors(body) == expected
    assert_unchanged(module_api, target)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"vars": {"A": 1}}, ("vars", "invalid_type")),
        ({"vars": ["A"]}, ("vars", "invalid_type")),
        ({"A": "1"}, ("A", "unknown_field")),
        ({}, ("vars", "required")),
    ],
)
def test_config_vars_refuse_while_decoding(
    module_api: Api, target: dict[str, Any], payload: dict[str, Any], expected: tuple[str, str]
) -> None:
    path = f"/v1/applications/{target['id']}/config-vars"
    body = assert_problem(module_api.patch(path, json=payload), 400, "validation_failed")
    assert field_errors(body) == {expected}
    assert_unchanged(module_api, target)


def test_config_var_limits_are_inclusive(api: Api, app_id: str) -> None:
    path = f"/v1/applications/{app_id}/config-vars"
    response = api.patch(path, json={"vars": {"K" * 253: "x" * (32 * 1024)}})
    assert response.status_code == 200, response.text
    assert response.json() == {"keys": ["K" * 253]}
