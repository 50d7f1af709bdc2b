"""What real Terraform plans from terraform/, with the real AWS provider, against the AWS
emulator: the cases a static reading cannot settle (the AMI of an arm64 type, the size EC2
holds user data to, a region without a default VPC). Plans only: nothing is applied.
"""

from __future__ import annotations

import json
import random
import string
import subprocess
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from harness import terraform
from harness.deploy import TerraformRun
from harness.hcl import load_directory
from harness.rehearsal import Rehearsal
from harness.rehearsal.emulator import Emulator
from harness.runs import RunRecord
from tests.terraform_render import USER_DATA_LIMIT

pytestmark = [pytest.mark.slow, pytest.mark.rehearsal, pytest.mark.usefixtures("rehearsal_tools")]

REGION = "us-east-1"
#: A region of the emulator whose default VPC these tests delete.
NO_DEFAULT_VPC_REGION = "ca-central-1"
API_KEY = "plan-test-key"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture(scope="module")
def workdir(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> TerraformRun:
    """One initialised working copy of terraform/, pointed at the emulator."""
    record = RunRecord(run_id="plan-test", region=REGION, allowed_cidrs=["127.0.0.1/32"])
    run = TerraformRun.create(
        record,
        API_KEY,
        cloud=Rehearsal(emulator.url),
        runs_dir=tmp_path_factory.mktemp("runs"),
        progress=lambda line: None,
    )
    run.init()
    return run


def plan(run: TerraformRun, **variables: str) -> subprocess.CompletedProcess[str]:
    """``terraform plan`` of the run's copy with ``variables`` over the run's own."""
    env = {**run.environment(), **{f"TF_VAR_{k}": v for k, v in variables.items()}}
    return terraform.run(
        ("plan", "-input=false", "-lock=false", "-out=plan.bin"), cwd=run.tf_dir, env=env
    )


def planned_instance(run: TerraformRun) -> dict[str, Any]:
    shown = terraform.run(("show", "-json", "plan.bin"), cwd=run.tf_dir, env=run.environment())
    assert shown.returncode == 0, shown.stderr
    resources = json.loads(shown.stdout)["planned_values"]["root_module"]["resources"]
    instance = next(r for r in resources if r["address"] == "aws_instance.api")
    values: dict[str, Any] = instance["values"]
    return values


def ami_architecture(emulator: Emulator, ami: str) -> str:
    session, endpoint = Rehearsal(emulator.url).aws_session(REGION)
    image = session.client("ec2", endpoint_url=endpoint).describe_images(ImageIds=[ami])
    return str(image["Images"][0]["Architecture"])


@pytest.mark.parametrize(
    ("instance_type", "architecture"), [("t3.micro", "x86_64"), ("t4g.micro", "arm64")]
)
def test_the_ami_matches_the_instance_types_processor(
    emulator: Emulator, workdir: TerraformRun, instance_type: str, architecture: str
) -> None:
    planned = plan(workdir, instance_type=instance_type)

    assert planned.returncode == 0, planned.stderr
    instance = planned_instance(workdir)
    assert instance["instance_type"] == instance_type
    assert ami_architecture(emulator, instance["ami"]) == architecture


def test_an_instance_type_amazon_linux_cannot_run_on_is_refused(workdir: TerraformRun) -> None:
    planned = plan(workdir, instance_type="mac1.metal")

    assert planned.returncode != 0
    assert "Amazon Linux 2023 runs on x86_64 and arm64" in planned.stderr
    assert "x86_64_mac" in planned.stderr


# -- the user-data limit ---------------------------------------------------------------------

#: A comment line appended to the user data, to make it as big as a test needs.
FILLER_LINE = "# filler: ${filler}\n"

_SIZES_CONFIG = """\
variable "values" {
  type = any
}

variable "filler" {
  type = string
}

variable "lengths" {
  type = list(number)
}

locals {
  encoded = [
    for n in var.lengths : base64gzip(templatefile(
      "${path.module}/template", merge(var.values, { filler = substr(var.filler, 0, n) })
    ))
  ]
}

# Each one's base64 length and its padding: what its bytes are counted from.
output "encodings" {
  value = [for text in local.encoded : [length(text), regex("=*$", text)]]
}
"""


def _template_values(run: TerraformRun) -> dict[str, Any]:
    """What main.tf gives templatefile() for this run: its variables as the harness passes
    them (TF_VAR_*), the defaults of those it does not, and main.tf's own image name."""
    passed = {
        name.removeprefix("TF_VAR_"): value
        for name, value in run.variables().items()
        if name.startswith("TF_VAR_")
    }
    defaults = {
        name: body.get("default") for name, body in load_directory(run.tf_dir).variables().items()
    }
    values = {**defaults, **passed}
    return {
        "api_key": values["api_key"],
        "base_image": values["base_image"],
        "bundle_sha256": values["app_bundle_sha256"],
        "image": f"{values['project']}-api:{values['run_id']}",
        "managed_by": values["managed_by"],
        "project": values["project"],
        "run_id": values["run_id"],
        "ttl_minutes": values["ttl_minutes"],
    }


def fillers_by_size(run: TerraformRun, tmp_path: Path, wanted: set[int]) -> Mapping[int, str]:
    """Filler texts that make the user data, with a comment line of the filler appended and
    gzip'd by Terraform as main.tf does it, exactly each of the ``wanted`` sizes (those
    that some length reaches)."""
    rng = random.Random(16384)  # filler text, not a secret: a fixed seed, the same every run
    filler = "".join(rng.choice(string.ascii_letters + string.digits + "+/") for _ in range(30000))
    template = (run.tf_dir / "user_data.sh").read_text() + FILLER_LINE
    # zlib's estimate of the length that reaches the smallest size; Terraform settles it.
    low, high = 1, len(filler)
    while low < high:
        middle = (low + high) // 2
        rendered = template.replace("${filler}", filler[:middle])
        if len(zlib.compress(rendered.encode(), 6)) + 18 < min(wanted):
            low = middle + 1
        else:
            high = middle
    lengths = list(range(max(1, low - 400), low + 400))
    directory = tmp_path / "sizes"
    directory.mkdir()
    (directory / "main.tf").write_text(_SIZES_CONFIG)
    (directory / "template").write_text(template)
    values = {**_template_values(run), "filler": ""}
    (directory / "sizes.auto.tfvars.json").write_text(
        json.dumps({"values": values, "filler": filler, "lengths": lengths})
    )
    env = terraform.quiet_cli_config(directory)
    for args in (("apply", "-auto-approve", "-input=false"), ("output", "-json")):
        done = terraform.run(args, cwd=directory, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
    encodings = json.loads(done.stdout)["encodings"]["value"]
    # Four base64 characters carry three bytes; each "=" of padding, one byte less.
    sizes = [length // 4 * 3 - len(padding) for length, padding in encodings]
    found: dict[int, str] = {}
    for length, size in zip(lengths, sizes, strict=True):
        if size in wanted and size not in found:
            found[size] = filler[:length]
    return found


@contextmanager
def user_data_with(run: TerraformRun, filler: str) -> Iterator[None]:
    """The run's user_data.sh with the filler line appended, for as long as the block runs."""
    path = run.tf_dir / "user_data.sh"
    original = path.read_text()
    path.write_text(original + FILLER_LINE.replace("${filler}", filler))
    try:
        yield
    finally:
        path.write_text(original)


def test_user_data_is_held_to_the_limit_on_its_gzipd_bytes(
    workdir: TerraformRun, tmp_path: Path
) -> None:
    """16,385 and 16,386 bytes encode to as many base64 characters as 16,384 (21,848): only
    the bytes tell them apart, and EC2 refuses both."""
    limit = USER_DATA_LIMIT
    fillers = fillers_by_size(workdir, tmp_path, {limit, limit + 1, limit + 2})
    assert limit in fillers, "no filler length reaches the limit exactly"
    over = [size for size in (limit + 1, limit + 2) if size in fillers]
    assert over, "no filler length reaches one byte or two over the limit"

    with user_data_with(workdir, fillers[limit]):
        at_limit = plan(workdir)
    assert at_limit.returncode == 0, at_limit.stderr
    for size in over:
        with user_data_with(workdir, fillers[size]):
            refused = plan(workdir)
        assert refused.returncode != 0, f"{size} bytes of user data were accepted"
        assert f"User data is {size} bytes gzip'd, over EC2's limit of {limit}" in refused.stderr


# -- a region without a default VPC ---------------------------------------------------------


def delete_default_vpc(emulator: Emulator, region: str) -> None:
    session, endpoint = Rehearsal(emulator.url).aws_session(region)
    ec2: Any = session.client("ec2", endpoint_url=endpoint)
    for vpc in ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]:
        vpc_filter = [{"Name": "vpc-id", "Values": [vpc["VpcId"]]}]
        for subnet in ec2.describe_subnets(Filters=vpc_filter)["Subnets"]:
            ec2.delete_subnet(SubnetId=subnet["SubnetId"])
        gateways = ec2.describe_internet_gateways(
            Filters=[{"Name": "attachment.vpc-id", "Values": [vpc["VpcId"]]}]
        )["InternetGateways"]
        for gateway in gateways:
            ec2.detach_internet_gateway(
                InternetGatewayId=gateway["InternetGatewayId"], VpcId=vpc["VpcId"]
            )
            ec2.delete_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"])
        ec2.delete_vpc(VpcId=vpc["VpcId"])
    assert not ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]


def test_a_region_without_a_default_vpc_is_told_to_pass_a_subnet(
    emulator: Emulator, workdir: TerraformRun
) -> None:
    delete_default_vpc(emulator, NO_DEFAULT_VPC_REGION)

    planned = plan(workdir, region=NO_DEFAULT_VPC_REGION)

    assert planned.returncode != 0
    assert (
        f"The region {NO_DEFAULT_VPC_REGION} has no default VPC: pass subnet_id" in planned.stderr
    )
    assert "no matching EC2 VPC found" not in planned.stderr
