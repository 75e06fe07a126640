"""The console end to end, as a person uses it: log in, see the demo clusters, filter, open one, edit a
node group's desired size and watch it converge, see a conflict after a change made in the (simulated)
AWS console, delete. The tests share one service and run in this order."""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

import pytest

from ..integration._procs import Service, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
DEMO = ["demo-beyond", "demo-created", "demo-imported", "demo-private", "demo-spot"]
GENERAL = 'tr[data-nodegroup="general"]'


def _expect() -> Any:
    from playwright.sync_api import expect  # noqa: PLC0415

    return expect


def _login(page: Any, svc: Service) -> None:
    page.goto(f"{svc.url}/ui/")
    page.get_by_label("Admin token").fill(svc.token)
    page.get_by_role("button", name="Sign in").click()
    _expect()(page.get_by_role("heading", name="Fleet overview")).to_be_visible()


def _active(svc: Service, name: str) -> bool:
    cluster = svc.http.json("GET", f"/v1/clusters/{name}")
    status = cluster.get("status") or {}
    return status.get("phase") == "active" and status.get("appliedSpec") == cluster["spec"]["eksConfig"]


def _sim_patch(sim: str, name: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        f"{sim}/_sim/clusters/{name}?region=us-west-2",
        data=json.dumps(body).encode(),
        method="PATCH",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 200


def test_login_refuses_a_wrong_token_then_shows_the_demo_clusters(
    page: Any, service: tuple[Service, str]
) -> None:
    svc, _ = service
    expect = _expect()
    page.goto(f"{svc.url}/ui/")
    page.get_by_label("Admin token").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("That token was refused.")
    page.get_by_label("Admin token").fill(svc.token)
    page.keyboard.press("Enter")  # the form works from the keyboard
    expect(page.get_by_role("heading", name="Fleet overview")).to_be_visible()
    assert page.evaluate("document.cookie") == ""  # the token is never a cookie
    assert page.evaluate("sessionStorage.length") == 1
    page.get_by_role("link", name="Clusters").click()
    for name in DEMO:
        expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_label("Admin token")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_filter_the_cluster_table(page: Any, service: tuple[Service, str]) -> None:
    svc, _ = service
    expect = _expect()
    _login(page, svc)
    page.goto(f"{svc.url}/ui/#/clusters")
    expect(page.locator("table.clusters tbody tr")).to_have_count(len(DEMO))
    page.get_by_label("Name starts with").fill("demo-s")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("table.clusters tbody tr")).to_have_count(1)
    expect(page.get_by_role("link", name="demo-spot")).to_be_visible()
    page.get_by_label("Name starts with").fill("")
    page.get_by_label("Label selector").fill("env in (")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("section p.error")).to_contain_text("invalid labelSelector")


def test_open_a_cluster_edit_desired_size_and_watch_it_converge(
    page: Any, service: tuple[Service, str]
) -> None:
    svc, _ = service
    expect = _expect()
    wait_until(lambda: _active(svc, "demo-created"), timeout=90, what="demo-created converged")
    _login(page, svc)
    page.goto(f"{svc.url}/ui/#/clusters")
    page.get_by_role("link", name="demo-created").click()
    expect(page.get_by_role("heading", name="demo-created", exact=True)).to_be_visible()
    expect(page.locator(GENERAL).locator("td.upstream")).to_have_text("2")
    page.get_by_role("button", name="Edit").click()
    editor = page.get_by_label("Cluster manifest (YAML)")
    text = editor.input_value()
    # A bad value first: the server's error is listed with its field and line.
    editor.fill(text.replace("minSize: 1", "minSize: 9", 1))
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#yaml-errors")).to_contain_text("spec.eksConfig.nodeGroups[0]")
    expect(editor).to_have_attribute("aria-invalid", "true")
    editor.fill(text.replace("desiredSize: 2", "desiredSize: 3", 1))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").first).to_have_text("Saved demo-created.")
    expect(page.locator(GENERAL).locator("td.desired")).to_have_text("3")
    # Converged: AWS (the simulator) reports the new size, and the page updated itself from the watch.
    expect(page.locator(GENERAL).locator("td.upstream")).to_have_text("3", timeout=90_000)


def test_a_console_change_in_aws_beside_a_local_edit_is_a_highlighted_conflict(
    page: Any, service: tuple[Service, str]
) -> None:
    svc, sim = service
    expect = _expect()
    svc.http.json("PUT", "/v1/settings/eks-refresh-cron", {"value": "@every 1h"})  # no refresh in between
    wait_until(lambda: _active(svc, "demo-created"), timeout=90, what="demo-created converged")
    _login(page, svc)
    page.goto(f"{svc.url}/ui/#/clusters/demo-created")
    page.get_by_role("button", name="Edit").click()
    editor = page.get_by_label("Cluster manifest (YAML)")
    text = editor.input_value()
    _sim_patch(sim, "demo-created", {"nodegroups": {"general": {"desiredSize": 2}}})  # someone, in AWS
    editor.fill(re.sub(r"desiredSize: \d+", "desiredSize: 1", text, count=1))  # and here, meanwhile
    page.get_by_role("button", name="Save").click()
    row = page.locator('tr[data-path="nodeGroups[general].desiredSize"]')
    expect(row).to_have_class(re.compile(r"state-conflict"), timeout=90_000)
    expect(row.locator(".tag")).to_have_text("conflict")
    expect(page.locator("table.grid tr.warn", has_text="Conflict")).to_contain_text("local 1 kept over AWS 2")


def test_delete_with_confirmation(page: Any, service: tuple[Service, str]) -> None:
    svc, _ = service
    expect = _expect()
    _login(page, svc)
    page.goto(f"{svc.url}/ui/#/clusters/demo-spot")
    expect(page.get_by_role("heading", name="demo-spot", exact=True)).to_be_visible()
    page.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog")
    confirm = dialog.get_by_role("button", name="Delete cluster")
    expect(confirm).to_be_disabled()
    dialog.get_by_label("Type demo-spot to confirm").fill("demo-spot")
    confirm.click()
    expect(page.locator("#status")).to_have_text("Deletion of demo-spot requested.")
    expect(page.locator(".summary .phase")).to_have_text(re.compile("deleting|deleted"))
    expect(page.locator(".summary .phase")).to_have_text("deleted", timeout=90_000)
    page.goto(f"{svc.url}/ui/#/clusters")
    expect(page.locator("table.clusters tbody tr")).to_have_count(len(DEMO) - 1)
