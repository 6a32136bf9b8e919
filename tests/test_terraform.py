"""examples/terraform/tenant: a Terraform tenant module around examples/tenant.yaml. Terraform
cannot download its AWS provider here, so `terraform validate` and a plan are out of reach; what
can be checked is: the module is `terraform fmt`-clean, runs the very tenant template the
local CloudFormation driver runs (tests/test_examples.py), passes every parameter that template
requires and only those, reads only outputs it declares, and waits longer than the
registration's ServiceTimeout."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from template_model import ROOT, load_template

MODULE = ROOT / "examples" / "terraform" / "tenant"
SOURCE = (MODULE / "main.tf").read_text()


def block(kind: str) -> str:
    """The body of the first ``kind {`` block (no nested braces inside, as the module writes
    its parameters and timeouts)."""
    found = re.search(kind + r"\s*=?\s*\{([^{}]*)\}", SOURCE)
    assert found is not None, f"no {kind} block in main.tf"
    return found.group(1)


def template_of_module() -> Path:
    found = re.search(r'template_body\s*=\s*file\("\$\{path\.module\}/([^"]+)"\)', SOURCE)
    assert found is not None, "the stack's template_body is not a file of the repository"
    return (MODULE / found.group(1)).resolve()


def test_the_module_is_terraform_fmt_clean() -> None:
    terraform = shutil.which("terraform")
    assert terraform is not None, "terraform is not installed"
    done = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(MODULE.parent)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_module_deploys_the_tenant_template_with_what_it_requires() -> None:
    assert template_of_module() == (ROOT / "examples" / "tenant.yaml").resolve()
    template = load_template(template_of_module())
    declared = template["Parameters"]
    required = {name for name, spec in declared.items() if "Default" not in spec}
    given = set(re.findall(r"^\s*(\w+)\s*=", block("parameters"), re.MULTILINE))
    assert required <= given <= set(declared)
    read = set(re.findall(r'outputs\["(\w+)"\]', SOURCE))
    assert read
    assert read <= set(template["Outputs"])


def test_terraform_waits_longer_than_the_registrations_service_timeout() -> None:
    template = load_template(template_of_module())
    (registration,) = [
        r for r in template["Resources"].values() if r["Type"] == "Custom::AuthorizerUserPool"
    ]
    service_timeout = int(registration["Properties"]["ServiceTimeout"])
    timeouts = dict(re.findall(r'(\w+)\s*=\s*"(\d+)m"', block("timeouts")))
    assert set(timeouts) == {"create", "update", "delete"}
    assert all(int(minutes) * 60 > service_timeout for minutes in timeouts.values())
