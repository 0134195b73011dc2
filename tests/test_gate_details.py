"""What the plan and confirm gates show: everything they approve (each item's command, the body a
step sends) and nothing that will not run (a step whose ``when`` is false now)."""

from __future__ import annotations

from engine_support import Scripted, make, run

from runbook_tui.engine.gates import GateAnswer
from runbook_tui.language.inventory import Inventory

INVENTORY = Inventory.model_validate({"targets": {"cluster": {"kubernetes": {"context": "lab", "namespace": "mail"}}}})

STEPS = [
    {"id": "patch-svc", "title": "Patch the Service", "k8s": "patch", "target": "cluster", "namespace": "mail",
     "kind": "Service", "name": "mailserver", "patch_type": "merge",
     "body": {"spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local"}},
     "confirm": "Patch the Service?"},
    {"id": "each", "foreach": ["alpha", "beta"], "local": "echo touching {{ item }}"},
    {"id": "never", "when": "{{ inputs.method == 'terraform' }}", "local": "echo never"},
]


async def test_the_plan_shows_bodies_and_items_and_leaves_out_a_false_when():
    gates = Scripted(GateAnswer.no())
    report, _ = await run(make(STEPS, method={"default": "patch"}), gates=gates, inventory=INVENTORY,
                          inputs={"method": "patch"})
    assert report.outcome == "refused"
    (plan,) = gates.asked
    patch, each = plan.details
    assert patch.startswith("patch-svc on cluster: PATCH service/mailserver -n mail (merge)")
    assert '    "type": "LoadBalancer"' in patch and '"externalTrafficPolicy": "Local"' in patch
    assert each == ("each on local machine: for each of 2 item(s):\n"
                    "  [alpha] echo touching alpha\n  [beta] echo touching beta")
    assert "Not listed: never (its `when` is false now" in plan.text


async def test_a_confirm_shows_the_body_it_approves():
    gates = Scripted(GateAnswer(True), GateAnswer.no())
    report, _ = await run(make(STEPS[:1]), gates=gates, inventory=INVENTORY)
    assert report.outcome == "refused"
    confirm = gates.asked[1]
    assert confirm.kind == "confirm"
    (shown,) = confirm.details
    assert shown.startswith("on cluster: PATCH service/mailserver -n mail (merge)\n")
    assert '"type": "LoadBalancer"' in shown
