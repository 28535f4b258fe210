"""Stored proposals: made by an account executive, approved, rejected or withdrawn; approval writes a new plan."""

from __future__ import annotations

import pytest

from api.models import ProposalStatus

from tests.api.conftest import (AE_REP, Service, SolvedPlan, create_scenario, small_files, start_run, upload,
                                wait_for_run)
from tests.api.test_proposals import first_of, owners

SPECIALIST = "AE-99"


@pytest.fixture(scope="module")
def plan(service: Service) -> SolvedPlan:
    """A plan of its own, since approvals add versions: 60 accounts, 3 reps and a specialist of an industry
    no account has, so that moving an account to the specialist breaks a rule."""
    files = small_files(accounts=60, reps=3)
    specialist = f"{SPECIALIST},Sam Idle,35.470750,-97.518533,Oklahoma City,OK,1600,120,Nothing Sold Here\n"
    files["reps"] = ("reps.csv", files["reps"][1] + specialist.encode())
    dataset = upload(service, files, name="proposals")
    scenario = create_scenario(service, dataset["id"], {"balance": {"potential": None}}, name="proposals")
    run = wait_for_run(service.client, service.headers(), start_run(service, scenario["id"], 10.0)["url"])
    assert run["status"] == "succeeded", run
    return SolvedPlan(dataset, scenario, run, run["plan_id"])


def propose(service: Service, plan_id: int, moves: dict[str, str], role: str = "sales_ops", note: str | None = None):
    return service.client.post(f"/plans/{plan_id}/proposals", headers=service.headers(role),
                               json={"moves": moves, **({"note": note} if note else {})})


def decide(service: Service, proposal_id: int, action: str, role: str = "sales_ops", **body):
    return service.client.post(f"/proposals/{proposal_id}/{action}", headers=service.headers(role), json=body)


def get_plan(service: Service, plan_id: int) -> dict:
    response = service.client.get(f"/plans/{plan_id}", headers=service.headers())
    assert response.status_code == 200, response.text
    return response.json()


def test_approval_writes_new_version(service: Service, plan: SolvedPlan) -> None:
    before = owners(service, plan.plan_id)
    account = first_of(before, "AE-02")
    created = propose(service, plan.plan_id, {account: AE_REP}, role="ae", note="I meet them every month")
    assert created.status_code == 201, created.text
    proposal = created.json()
    assert created.headers["location"] == f"/proposals/{proposal['id']}"
    assert (proposal["status"], proposal["note"], proposal["ok"]) == ("pending", "I meet them every month", True)
    queue = service.client.get("/proposals", headers=service.headers(), params={"status": "pending"}).json()
    assert proposal["id"] in [row["id"] for row in queue]

    assert decide(service, proposal["id"], "approve", role="ae").status_code == 403
    assert decide(service, proposal["id"], "approve", role="leadership").status_code == 403
    approved = decide(service, proposal["id"], "approve", note="agreed with the AE-02 manager")
    assert approved.status_code == 200, approved.text
    record = approved.json()
    assert (record["status"], record["decision_note"]) == ("approved", "agreed with the AE-02 manager")

    base, changed = get_plan(service, plan.plan_id), get_plan(service, record["result_plan_id"])
    assert (changed["run_id"], changed["based_on_plan_id"]) == (None, plan.plan_id)
    assert changed["version"] > base["version"]
    # Exactly the one account changed owner.
    assert owners(service, changed["id"]) == {**before, account: AE_REP}
    solver = changed["solver"]
    assert solver["objective"] == pytest.approx(record["objective_after"], abs=1e-3)
    assert solver["lower_bound"] == base["solver"]["lower_bound"]
    assert solver["gap"] == pytest.approx((solver["objective"] - solver["lower_bound"]) / solver["objective"])
    assert f"proposal {record['id']} moved 1 account by hand" in solver["notes"][-3]
    # Nothing was solved: the solve figures are the base plan's, as the note states.
    assert solver["notes"][-2] == ("the solve time, time limit, seed, workers and LP figures shown are those of the "
                                   "original solve, not of the changes made by hand")
    assert (solver["time_s"], solver["seed"], solver["workers"]) == \
        (base["solver"]["time_s"], base["solver"]["seed"], base["solver"]["workers"])
    assert solver["notes"][-1] == ("the lower bound is the solved plan's, which holds for every plan that keeps the "
                                   "scenario's rules")
    # The changed plan itself keeps every rule: a preview on it finds nothing already broken.
    back = service.client.post(f"/plans/{changed['id']}/proposals/preview", headers=service.headers(),
                               json={"moves": {account: "AE-02"}}).json()
    assert (back["ok"], back["already_broken"]) == (True, [])

    again = decide(service, proposal["id"], "approve")
    assert again.status_code == 409
    assert again.json()["detail"] == (f"proposal {proposal['id']} is already approved; only a pending proposal "
                                      "can be decided")


def test_later_approval_applies_to_the_latest_version(service: Service, plan: SolvedPlan) -> None:
    start = owners(service, plan.plan_id)
    first, second = sorted(account for account, rep in start.items() if rep == "AE-03")[:2]
    earlier = propose(service, plan.plan_id, {first: "AE-02"}).json()
    later = propose(service, plan.plan_id, {second: "AE-02"}).json()
    clash = propose(service, plan.plan_id, {first: AE_REP}).json()

    plan_one = decide(service, earlier["id"], "approve").json()["result_plan_id"]
    plan_two = decide(service, later["id"], "approve").json()["result_plan_id"]
    # Both approvals asked for the same plan; the second applies to the version the first wrote.
    assert get_plan(service, plan_two)["based_on_plan_id"] == plan_one
    assert owners(service, plan_two)[first] == owners(service, plan_two)[second] == "AE-02"
    # The second version keeps the note of each change, and the closing notes once each, at the end.
    notes = get_plan(service, plan_two)["solver"]["notes"]
    # Earlier tests may have changed this plan before, so only the last two changes are these.
    assert [note.split(" moved")[0] for note in notes if " by hand, without solving again" in note][-2:] == \
        [f"proposal {earlier['id']}", f"proposal {later['id']}"]
    assert notes[-2:] == ["the solve time, time limit, seed, workers and LP figures shown are those of the original "
                          "solve, not of the changes made by hand",
                          "the lower bound is the solved plan's, which holds for every plan that keeps the scenario's "
                          "rules"]
    assert len(notes) == len(set(notes))

    conflict = decide(service, clash["id"], "approve")
    assert conflict.status_code == 409
    assert conflict.json()["detail"] == (
        f"account {first} belonged to AE-03 when proposal {clash['id']} was made, but plan {plan_two}, the latest "
        f"version of plan {plan.plan_id}, gives it to AE-02; reject this proposal and propose again on plan {plan_two}")
    assert service.client.get(f"/proposals/{clash['id']}", headers=service.headers()).json()["status"] == "pending"


def test_breaking_change_needs_consent(service: Service, plan: SolvedPlan) -> None:
    # Not the account an earlier test moved: an approval applies to the latest version of the plan.
    account = max(account for account, rep in owners(service, plan.plan_id).items() if rep == "AE-02")
    proposal = propose(service, plan.plan_id, {account: SPECIALIST}).json()
    rule = f"account {account} is in an industry rep {SPECIALIST} does not cover"
    assert (proposal["status"], proposal["ok"], proposal["violations"]) == ("pending", False, [rule])

    blocked = decide(service, proposal["id"], "approve")
    assert blocked.status_code == 409
    assert blocked.json()["violations"] == [rule]
    assert "approve with accept_violations true" in blocked.json()["detail"]

    assert decide(service, proposal["id"], "approve", accept_violations="yes").status_code == 422
    approved = decide(service, proposal["id"], "approve", accept_violations=True)
    assert approved.status_code == 200, approved.text
    assert approved.json()["accepted_violations"] == [rule]
    changed = get_plan(service, approved.json()["result_plan_id"])
    assert f"approved in proposal {proposal['id']} although it breaks this rule: {rule}" in changed["warnings"]
    assert (changed["solver"]["status"], changed["solver"]["gap"]) == ("breaks rules", None)
    # The breach names another rep, so an ae key gets it counted only, in the plan and in its metrics.
    hidden = sum(SPECIALIST in warning for warning in changed["warnings"])
    assert hidden == 2  # the breach, and the industry that no account has
    for url in (f"/plans/{changed['id']}", f"/plans/{changed['id']}/metrics"):
        warnings = service.client.get(url, headers=service.headers("ae")).json()["warnings"]
        assert [warning for warning in warnings if SPECIALIST in warning] == []
        assert f"{hidden} more warning(s) about other territories; sales ops see them" in warnings

    # A later change that keeps every other rule is approved without consent; its plan still names the breach.
    other = max(account for account, rep in owners(service, changed["id"]).items() if rep == "AE-03")
    later = propose(service, changed["id"], {other: "AE-02"}).json()
    assert (later["ok"], later["already_broken"]) == (True, [rule])
    after = get_plan(service, decide(service, later["id"], "approve").json()["result_plan_id"])
    assert f"breaks this rule, already broken before proposal {later['id']}: {rule}" in after["warnings"]
    assert after["solver"]["status"] == "breaks rules"


def test_reject_and_withdraw(service: Service, plan: SolvedPlan) -> None:
    base = owners(service, plan.plan_id)
    rejected = propose(service, plan.plan_id, {first_of(base, "AE-02"): AE_REP}, role="ae").json()
    answer = decide(service, rejected["id"], "reject", note="AE-02 keeps its key accounts")
    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["decision_note"]) == ("rejected", "AE-02 keeps its key accounts")
    assert answer.json()["result_plan_id"] is None
    assert decide(service, rejected["id"], "withdraw", role="ae").status_code == 409

    withdrawn = propose(service, plan.plan_id, {first_of(base, "AE-03"): AE_REP}, role="ae").json()
    other = decide(service, withdrawn["id"], "withdraw")
    assert other.status_code == 403
    assert other.json()["detail"] == (f"only the key that made proposal {withdrawn['id']} may withdraw it; sales ops "
                                      "reject proposals instead")
    mine = decide(service, withdrawn["id"], "withdraw", role="ae")
    assert mine.status_code == 200, mine.text
    assert mine.json()["status"] == "withdrawn"


def test_ae_sees_only_its_moves_and_rules(service: Service, plan: SolvedPlan) -> None:
    """Leadership moves accounts of three reps; the ae key reads its own move only, the rest counted."""
    base = owners(service, plan.plan_id)
    mine, second, third = first_of(base, AE_REP), first_of(base, "AE-02"), first_of(base, "AE-03")
    response = propose(service, plan.plan_id, {mine: "AE-02", second: "AE-03", third: SPECIALIST}, role="leadership")
    assert response.status_code == 201, response.text
    assert len(response.json()["violations"]) == 1

    seen = service.client.get(f"/proposals/{response.json()['id']}", headers=service.headers("ae")).json()
    assert seen["moves"] == [{"account_id": mine, "from": AE_REP, "to": "AE-02"}]
    assert seen["violations"] == []
    assert "the proposal also moves 2 account(s) between other reps; sales ops see them" in seen["notes"]
    assert "the change also breaks 1 rule(s) of other territories; sales ops see the details" in seen["notes"]


def test_proposal_on_older_version_is_noted(service: Service, plan: SolvedPlan) -> None:
    base = owners(service, plan.plan_id)
    first = propose(service, plan.plan_id, {first_of(base, AE_REP): "AE-03"}).json()
    newer = decide(service, first["id"], "approve").json()["result_plan_id"]
    latest = newer
    while (successor := [row for row in service.client.get("/plans", headers=service.headers()).json()
                         if row["based_on_plan_id"] == latest]):
        latest = successor[0]["id"]

    preview = service.client.post(f"/plans/{plan.plan_id}/proposals/preview", headers=service.headers(),
                                  json={"moves": {first_of(base, "AE-02"): "AE-03"}}).json()
    assert (f"plan {plan.plan_id} has a newer version, plan {latest}, written by approving proposals; an approval "
            f"applies these moves to plan {latest}, so propose on it to see its figures") in preview["notes"]


def test_decision_after_another_is_409(service: Service, plan: SolvedPlan) -> None:
    """Two requests read the proposal as pending; the one that writes second changes nothing and gets 409."""
    from api.errors import ApiError
    from api.models import Proposal
    from api.routers.proposals import _decide

    base = owners(service, plan.plan_id)
    proposal = propose(service, plan.plan_id, {first_of(base, "AE-02"): AE_REP}, role="ae").json()
    sessions = service.app.state.sessions
    with sessions() as first, sessions() as second:
        row = first.get(Proposal, proposal["id"])
        assert row.status == "pending"
        other = second.get(Proposal, proposal["id"])
        _decide(second, other, _caller(service, "ae"), ProposalStatus.withdrawn, None)
        with pytest.raises(ApiError) as error:
            _decide(first, row, _caller(service, "sales_ops"), ProposalStatus.approved, None)
    assert error.value.status_code == 409
    assert error.value.detail == (f"proposal {proposal['id']} was withdrawn by another request at the same moment; "
                                  "only a pending proposal can be decided")
    stored = service.client.get(f"/proposals/{proposal['id']}", headers=service.headers()).json()
    assert (stored["status"], stored["result_plan_id"]) == ("withdrawn", None)


def _caller(service: Service, role: str):
    from api.auth import find_caller

    with service.app.state.sessions() as session:
        return find_caller(session, service.headers(role)["X-API-Key"])


def test_ae_sees_only_proposals_about_its_territory(service: Service, plan: SolvedPlan) -> None:
    base = owners(service, plan.plan_id)
    elsewhere = propose(service, plan.plan_id, {first_of(base, "AE-02"): "AE-03"}).json()
    own = propose(service, plan.plan_id, {first_of(base, AE_REP): "AE-03"}).json()

    assert service.client.get(f"/proposals/{elsewhere['id']}", headers=service.headers("ae")).status_code == 404
    seen = service.client.get(f"/plans/{plan.plan_id}/proposals", headers=service.headers("ae")).json()
    ids = [row["id"] for row in seen]
    assert own["id"] in ids
    assert elsewhere["id"] not in ids
    mine = next(row for row in seen if row["id"] == own["id"])
    assert list(mine["territories"]) == [AE_REP]


def test_unknown_proposal_is_404(service: Service) -> None:
    response = service.client.get("/proposals/999999", headers=service.headers())
    assert response.status_code == 404
    assert response.json()["detail"] == "proposal 999999 not found"


def test_ae_view_keeps_own_rules_broken_before() -> None:
    from api.routers.proposals import _ae_view

    answer = {"moves": [{"account_id": "A1", "from": "AE-02", "to": AE_REP}],
              "violations": ["rep AE-02: 9 accounts above max_accounts 8"],
              "already_broken": [f"rep {AE_REP}: 70 accounts above max_accounts 60",
                                 "rep AE-03: 70 accounts above max_accounts 60"],
              "notes": ["the plan itself already breaks 2 rule(s) under these rules (...), and the changed plan still "
                        "breaks these:"],
              "territories": {AE_REP: {}, "AE-02": {}}}
    seen = _ae_view(answer, AE_REP, [AE_REP, "AE-02", "AE-03"])

    assert seen["already_broken"] == [f"rep {AE_REP}: 70 accounts above max_accounts 60"]
    assert seen["violations"] == []
    assert seen["notes"][0].startswith("the plan itself already breaks")
    assert seen["moves"] == [{"account_id": "A1", "from": None, "to": AE_REP}]
    assert list(seen["territories"]) == [AE_REP]
