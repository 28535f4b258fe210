"""Proposals over HTTP: a plan's accounts moved by hand, checked against its scenario's rules, then stored,
approved, rejected or withdrawn."""

from __future__ import annotations

import pytest

from tests.api.conftest import AE_REP, Service, SolvedPlan


def owners(service: Service, plan_id: int) -> dict[str, str]:
    page = service.client.get(f"/plans/{plan_id}/assignments", headers=service.headers(),
                              params={"limit": 1000}).json()
    return {item["account_id"]: item["rep_id"] for item in page["items"] if item["rep_id"]}


def first_of(plan: dict[str, str], rep_id: str) -> str:
    return next(account for account, rep in plan.items() if rep == rep_id)


def test_move_to_uncovered_industry_breaks_a_rule(service: Service, small_plan: SolvedPlan) -> None:
    plan = owners(service, small_plan.plan_id)
    account = first_of(plan, AE_REP)
    response = service.client.post(f"/plans/{small_plan.plan_id}/proposals/preview", headers=service.headers(),
                                   json={"moves": {account: "AE-99"}})

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["ok"] is False
    assert result["violations"] == [f"account {account} is in an industry rep AE-99 does not cover"]
    assert result["moves"] == [{"account_id": account, "from": AE_REP, "to": "AE-99"}]
    assert sorted(result["territories"]) == sorted([AE_REP, "AE-99"])
    assert result["territories"]["AE-99"]["before"]["accounts"] == 0
    assert result["territories"]["AE-99"]["after"]["accounts"] == 1


def test_preview_keeps_rules_and_stores_nothing(service: Service, small_plan: SolvedPlan) -> None:
    plan = owners(service, small_plan.plan_id)
    account = first_of(plan, "AE-02")
    response = service.client.post(f"/plans/{small_plan.plan_id}/proposals/preview", headers=service.headers(),
                                   json={"moves": {account: "AE-03"}})

    assert response.status_code == 200, response.text
    assert response.json()["ok"] is True
    assert response.json()["violations"] == []
    assert owners(service, small_plan.plan_id) == plan
    stored = service.client.get(f"/plans/{small_plan.plan_id}/proposals", headers=service.headers()).json()
    assert [row for row in stored if row["moves"][0]["account_id"] == account] == []


def test_ae_moves_only_own_territory(service: Service, small_plan: SolvedPlan) -> None:
    plan = owners(service, small_plan.plan_id)
    other = first_of(plan, "AE-02")
    response = service.client.post(f"/plans/{small_plan.plan_id}/proposals/preview", headers=service.headers("ae"),
                                   json={"moves": {other: "AE-03"}})
    assert response.status_code == 403
    assert f"{other} is neither" in response.json()["detail"]

    own_request = service.client.post(f"/plans/{small_plan.plan_id}/proposals/preview", headers=service.headers("ae"),
                                 json={"moves": {other: AE_REP}})
    assert own_request.status_code == 200, own_request.text
    # The ae key gets its own territory only, and not the owner of the account it requests.
    assert own_request.json()["moves"] == [{"account_id": other, "from": None, "to": AE_REP}]
    assert list(own_request.json()["territories"]) == [AE_REP]


def test_unknown_account_is_422(service: Service, small_plan: SolvedPlan) -> None:
    response = service.client.post(f"/plans/{small_plan.plan_id}/proposals/preview", headers=service.headers(),
                                   json={"moves": {"NO-SUCH": "AE-02"}})
    assert response.status_code == 422
    assert "account 'NO-SUCH' is not an account of the plan" in response.json()["detail"]


def test_ae_hint_names_only_own_accounts(service: Service, small_plan: SolvedPlan) -> None:
    plan = owners(service, small_plan.plan_id)
    other = first_of(plan, "AE-02")
    typo = other + "X"
    url = f"/plans/{small_plan.plan_id}/proposals/preview"

    planner = service.client.post(url, headers=service.headers(), json={"moves": {typo: AE_REP}})
    assert planner.status_code == 422
    assert f"did you mean {other!r}?" in planner.json()["detail"]

    # An ae key reads only its own accounts, so its hint comes from those alone.
    ae = service.client.post(url, headers=service.headers("ae"), json={"moves": {typo: AE_REP}})
    assert ae.status_code == 422
    detail = ae.json()["detail"]
    assert f"account {typo!r} is not an account of the plan" in detail
    assert repr(other) not in detail
    hinted = [account for account in plan if f"did you mean {account!r}?" in detail]
    assert all(plan[account] == AE_REP for account in hinted)


def test_moves_file_preview_and_proposal(service: Service, small_plan: SolvedPlan) -> None:
    plan = owners(service, small_plan.plan_id)
    # The last two of AE-02's accounts: other tests look for stored proposals that move its first one.
    first, second = sorted(account for account, rep in plan.items() if rep == "AE-02")[-2:]
    content = f"account_id,rep_id\n{first},{AE_REP}\n{second},{AE_REP}\n".encode()
    files = {"moves": ("moves.csv", content, "text/csv")}

    preview = service.client.post(f"/plans/{small_plan.plan_id}/proposals/preview/file", headers=service.headers(),
                                  files=files)
    assert preview.status_code == 200, preview.text
    assert preview.json()["moves"] == [{"account_id": first, "from": "AE-02", "to": AE_REP},
                                       {"account_id": second, "from": "AE-02", "to": AE_REP}]

    created = service.client.post(f"/plans/{small_plan.plan_id}/proposals/file", headers=service.headers("ae"),
                                  files=files, data={"note": "both sit next to my office"})
    assert created.status_code == 201, created.text
    record = created.json()
    assert (record["status"], record["note"]) == ("pending", "both sit next to my office")
    assert created.headers["Location"] == f"/proposals/{record['id']}"
    stored = service.client.get(f"/proposals/{record['id']}", headers=service.headers()).json()
    assert [move["account_id"] for move in stored["moves"]] == [first, second]


def preview_file(service: Service, plan_id: int, content: bytes, name: str = "moves.csv"):
    """Post `content` as a moves file to the preview route of plan `plan_id`."""
    return service.client.post(f"/plans/{plan_id}/proposals/preview/file", headers=service.headers(),
                               files={"moves": (name, content, "text/csv")})


def test_moves_file_problems_are_422_by_row(service: Service, small_plan: SolvedPlan) -> None:
    plan = owners(service, small_plan.plan_id)
    account = first_of(plan, "AE-02")
    content = f"account_id,rep_id\n{account},AE-03\n{account},{AE_REP}\n,AE-03\n".encode()
    response = preview_file(service, small_plan.plan_id, content)
    assert response.status_code == 422
    body = response.json()
    assert body["detail"].startswith("2 problem(s) with the moves file")
    assert [(issue["row"], issue["column"]) for issue in body["issues"]] == [(3, "account_id"), (4, "account_id")]

    # A move the evaluation rejects is named with its row, and the blank line counts.
    rejected = preview_file(service, small_plan.plan_id, f"account_id,rep_id\n\nNO-SUCH,AE-03\n{account},AE-77\n".encode())
    assert rejected.status_code == 422
    assert "account 'NO-SUCH' (moves.csv row 3) is not an account of the plan" in rejected.json()["detail"]
    assert "rep 'AE-77' (moves.csv row 4) is not in the roster" in rejected.json()["detail"]

    missing = service.client.post(f"/plans/{small_plan.plan_id}/proposals/file", headers=service.headers(),
                                  files={"moves": ("moves.csv", b"account,rep\nA,B\n", "text/csv")})
    assert missing.status_code == 422
    assert "a moves file has the columns account_id and rep_id" in missing.json()["issues"][0]["message"]

    rows = "".join(f"A{index},AE-03\n" for index in range(1001))
    too_many = service.client.post(f"/plans/{small_plan.plan_id}/proposals/preview/file", headers=service.headers(),
                                   files={"moves": ("many.csv", f"account_id,rep_id\n{rows}".encode(), "text/csv")})
    assert too_many.status_code == 422
    assert too_many.json()["detail"] == ("the moves file many.csv has 1,001 moves; a proposal takes at most 1,000, "
                                         "so split the file")

    long_id = "A" * 201
    too_long = service.client.post(f"/plans/{small_plan.plan_id}/proposals/preview/file", headers=service.headers(),
                                   files={"moves": ("long.csv", f"account_id,rep_id\n{long_id},AE-03\n".encode(),
                                                    "text/csv")})
    assert too_long.status_code == 422
    assert too_long.json()["detail"].endswith("it has 201 characters, and an id may have at most 200")


def test_moves_file_of_other_territory_is_403(service: Service, small_plan: SolvedPlan) -> None:
    plan = owners(service, small_plan.plan_id)
    other = first_of(plan, "AE-02")
    response = service.client.post(f"/plans/{small_plan.plan_id}/proposals/file", headers=service.headers("ae"),
                                   files={"moves": ("moves.csv", f"account_id,rep_id\n{other},AE-03\n".encode(),
                                                    "text/csv")})
    assert response.status_code == 403
    assert f"{other} (moves.csv row 2) is neither" in response.json()["detail"]



def test_lone_surrogate_is_422(service: Service, small_plan: SolvedPlan) -> None:
    """UTF-8 cannot encode a lone surrogate, so the 422 that echoes the input escapes it instead of failing."""
    response = service.client.post(f"/plans/{small_plan.plan_id}/proposals/preview",
                                    headers={**service.headers(), "Content-Type": "application/json"},
                                    content=b'{"moves": {"ACC-0001": "\\ud800"}}')
    assert response.status_code == 422


@pytest.mark.parametrize("media_type", ["application/json", "application/json; charset=utf-8",
                                        "application/merge-patch+json"])
def test_repeated_json_key_is_422(service: Service, small_plan: SolvedPlan, media_type: str) -> None:
    """A JSON parser keeps the later of two equal keys, which would drop a move silently."""
    body = b'{"moves": {"ACC-0001": "AE-02", "ACC-0001": "AE-03"}}'
    response = service.client.post(f"/plans/{small_plan.plan_id}/proposals",
                                   headers={**service.headers(), "Content-Type": media_type}, content=body)

    assert response.status_code == 422
    assert response.json()["detail"] == ("the JSON body gives the key 'ACC-0001' twice in one object, and the later "
                                         "value would replace the earlier; give each key once")
    stored = service.client.get(f"/plans/{small_plan.plan_id}/proposals", headers=service.headers()).json()
    assert [row for row in stored if row["moves"][0]["account_id"] == "ACC-0001"] == []


def test_long_input_echo_cut_short(service: Service, small_plan: SolvedPlan) -> None:
    """A 422 names the bad field but does not send a huge input back whole."""
    response = service.client.post(f"/plans/{small_plan.plan_id}/proposals/preview", headers=service.headers(),
                                   json={"moves": {"ACC-0001": "AE-02"}, "note": "x" * 50_000})

    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert error["loc"] == ["body", "note"]
    assert error["input"] == "x" * 200 + "... (50,000 characters, cut short)"


def test_nul_character_message(service: Service, small_plan: SolvedPlan) -> None:
    response = service.client.post(f"/plans/{small_plan.plan_id}/proposals/preview", headers=service.headers(),
                                   json={"moves": {"ACC-0001": "AE-02"}, "note": "a\x00b"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == ("contains a NUL character (\\x00), which no text field may contain; "
                                                   "remove it")


def test_long_key_cut_short_in_location(service: Service, small_plan: SolvedPlan) -> None:
    key = "A" * 5_000
    response = service.client.post(f"/plans/{small_plan.plan_id}/proposals/preview", headers=service.headers(),
                                   json={"moves": {key: "AE-02"}})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-2:] == ["A" * 200 + "... (5,000 characters, cut short)", "[key]"]
    assert len(response.content) < 2_000
