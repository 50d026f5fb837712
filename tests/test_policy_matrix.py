"""The whole role x (object, action) matrix of policies/, printed and checked against ACCESS.md's table."""

from __future__ import annotations

from resolute.api.access.policy import load_policy
from resolute.api.settings import ROOT

ROLES = ("admin", "leader", "manager", "officer", "viewer", "auditor", "integrator")
READABLE = ("unit", "user", "grant", "resolution", "objective", "key_result", "kpi", "measurement", "task", "milestone", "assignment", "progress_report", "extension", "evaluation")

# ACCESS.md, "Acting": verb -> (object, action) pairs -> roles that may.
ACCESS_TABLE: list[tuple[str, list[tuple[str, str]], set[str]]] = [
    ("read", [(obj, "read") for obj in READABLE], set(ROLES)),
    ("manage units", [("unit", a) for a in ("create", "update", "move", "archive", "merge")], {"admin"}),
    ("manage accounts and grants", [("user", a) for a in ("create", "update", "deactivate", "set_password")] + [("grant", "create"), ("grant", "revoke")], {"admin"}),
    ("define and edit", [(o, "define") for o in ("resolution", "objective", "key_result", "kpi", "task", "milestone")], {"admin", "manager"}),
    ("assign, fan out", [("assignment", "assign")], {"admin", "leader", "manager"}),
    ("acknowledge, request an extension", [("assignment", "acknowledge"), ("extension", "request")], {"admin", "leader", "manager", "officer"}),
    ("submit progress reports and measurements", [("progress_report", "submit"), ("measurement", "submit")], {"manager", "officer"}),
    ("approve or refuse an extension, evaluate", [("extension", "decide"), ("evaluation", "submit")], {"admin", "leader", "manager"}),
    # ACCESS.md has no row for data approval (issue 11): the roles that judge the work below approve its figures
    ("approve data", [("data_approval", "decide")], {"admin", "leader", "manager"}),
    ("read audit events", [("audit_event", "read")], {"admin", "auditor"}),
    ("introspect the schema (production profile)", [("schema", "introspect")], {"admin", "integrator"}),  # ACCESS.md "Integrators"
]


def test_roles_are_exactly_those_of_access_md() -> None:
    assert set(load_policy(ROOT / "policies").roles) == set(ROLES)


def test_role_action_matrix_matches_access_md(capsys) -> None:  # type: ignore[no-untyped-def]
    policy = load_policy(ROOT / "policies")
    pairs = [pair for _, group, _ in ACCESS_TABLE for pair in group]
    assert sorted(pairs) == sorted(policy.actions), "the policy names actions ACCESS.md does not (or the reverse)"
    width = max(len(f"{o}.{a}") for o, a in pairs)
    lines = [f"{'object.action':<{width}}  " + "  ".join(f"{r:<7}" for r in ROLES)]
    mismatches = []
    for verb, group, allowed in ACCESS_TABLE:
        for obj, act in group:
            row = []
            for role in ROLES:
                got = policy.allows(role, obj, act)
                row.append(f"{'yes' if got else '-':<7}")
                if got != (role in allowed):
                    mismatches.append(f"{role} {obj}.{act}: policy says {got}, ACCESS.md ({verb}) says {role in allowed}")
            lines.append(f"{obj + '.' + act:<{width}}  " + "  ".join(row))
    print("\n".join(lines))
    assert not mismatches, "\n".join(mismatches)


def test_unknown_role_and_permission_sets_allow_nothing() -> None:
    policy = load_policy(ROOT / "policies")
    assert not policy.allows("root", "unit", "read")
    assert not policy.allows("set:read", "unit", "read")  # a permission set is not a role
    assert not policy.is_role("set:units")
