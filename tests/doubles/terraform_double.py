"""A test double of the ``terraform`` command, to rehearse the aws target offline.

Real Terraform cannot fetch the AWS provider here, and there is no AWS. This double answers
the four commands the harness runs (``init``, ``apply``, ``output -json``, ``destroy``) in the
run's working directory, with the variables the harness passes (``TF_VAR_*``):

- ``apply`` creates what ``terraform/main.tf`` would, in moto (reached through
  ``AWS_ENDPOINT_URL``): a security group with its ingress rules, an instance with its root
  volume, all tagged
  Project/RunId/ManagedBy; then it starts the real container from this tree's Dockerfile as
  the "instance" and outputs its 127.0.0.1 URL.
- ``destroy`` terminates and deletes them and removes the container.

``TERRAFORM_DOUBLE_FAULT`` makes it misbehave the way real runs do:
``apply-midway`` (the security group is created, then the apply fails), ``unhealthy`` (the
instance exists but nothing answers), ``destroy`` (the destroy fails, leaving everything),
``leave-volume`` (the destroy forgets a tagged volume).

Its state, ``terraform.tfstate`` in the working directory, is this double's own JSON.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

import boto3  # noqa: E402

from harness.docker import Docker  # noqa: E402
from harness.ports import free_port  # noqa: E402
from harness.targets.base import TargetOptions  # noqa: E402
from harness.targets.local import LocalTarget  # noqa: E402

STATE = Path("terraform.tfstate")
FAULT = os.environ.get("TERRAFORM_DOUBLE_FAULT", "")


def say(text: str) -> None:
    print(f"terraform-double: {text}", flush=True)


def variable(name: str, default: str | None = None) -> str:
    value = os.environ.get(f"TF_VAR_{name}", default)
    if value is None:
        raise SystemExit(f"terraform-double: variable {name} is not set")
    return value


def load() -> dict[str, Any]:
    return json.loads(STATE.read_text()) if STATE.exists() else {}


def save(state: dict[str, Any]) -> None:
    STATE.write_text(json.dumps(state, indent=2))


def ec2() -> Any:
    return boto3.client("ec2", region_name=variable("region"))


def tag_specs(*resource_types: str) -> list[dict[str, Any]]:
    tags = [
        {"Key": "Project", "Value": variable("project")},
        {"Key": "RunId", "Value": variable("run_id")},
        {"Key": "ManagedBy", "Value": "terraform"},
    ]
    return [{"ResourceType": kind, "Tags": tags} for kind in resource_types]


def apply() -> int:
    state = load()
    client = ec2()
    name = f"{variable('project')}-{variable('run_id')}"
    if "security_group_id" not in state:
        group = client.create_security_group(
            GroupName=f"{name}-api",
            Description="API on TCP 5000 from the allowed CIDRs",
            TagSpecifications=tag_specs("security-group"),
        )
        state["security_group_id"] = group["GroupId"]
        save(state)
        say(f"created security group {group['GroupId']}")
        for cidr in json.loads(variable("allowed_cidrs")):
            client.authorize_security_group_ingress(
                GroupId=group["GroupId"],
                IpPermissions=[
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 5000,
                        "ToPort": 5000,
                        "IpRanges": [{"CidrIp": cidr}],
                    }
                ],
                TagSpecifications=tag_specs("security-group-rule"),
            )
    if FAULT == "apply-midway":
        say("Error: creating EC2 Instance: InsufficientInstanceCapacity (injected fault)")
        return 1
    if "instance_id" not in state:
        image_id = client.describe_images()["Images"][0]["ImageId"]
        reservation = client.run_instances(
            ImageId=image_id,
            MinCount=1,
            MaxCount=1,
            InstanceType=variable("instance_type", "t3.micro"),
            SecurityGroupIds=[state["security_group_id"]],
            TagSpecifications=tag_specs("instance", "volume"),
        )
        state["instance_id"] = reservation["Instances"][0]["InstanceId"]
        save(state)
        say(f"created instance {state['instance_id']}")
    if FAULT == "leave-volume" and "extra_volume_id" not in state:
        volume = client.create_volume(
            AvailabilityZone=f"{variable('region')}a", Size=1, TagSpecifications=tag_specs("volume")
        )
        state["extra_volume_id"] = volume["VolumeId"]
        save(state)
    if "api_url" not in state:
        if FAULT == "unhealthy":
            state["api_url"] = f"http://127.0.0.1:{free_port()}"  # nothing will ever answer
        else:
            options = TargetOptions(run_id=variable("run_id"), api_key=variable("api_key"))
            state["api_url"] = LocalTarget(options).start().base_url
        save(state)
    say("Apply complete!")
    return 0


def output() -> int:
    state = load()
    values = {
        "api_url": state.get("api_url"),
        "instance_id": state.get("instance_id"),
        "public_ip": "127.0.0.1",
        "security_group_id": state.get("security_group_id"),
    }
    print(json.dumps({key: {"sensitive": False, "value": value} for key, value in values.items()}))
    return 0


def destroy() -> int:
    if FAULT == "destroy":
        say("Error: deleting Security Group: DependencyViolation (injected fault)")
        return 1
    state = load()
    client = ec2()
    Docker().remove_run(variable("run_id"))
    if "instance_id" in state:
        client.terminate_instances(InstanceIds=[state["instance_id"]])
        say(f"terminated instance {state['instance_id']}")
    if "security_group_id" in state:
        client.delete_security_group(GroupId=state["security_group_id"])
        say(f"deleted security group {state['security_group_id']}")
    save({"extra_volume_id": state["extra_volume_id"]} if "extra_volume_id" in state else {})
    say("Destroy complete!")
    return 0


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "init":
        say("initialised (no providers needed)")
        return 0
    handlers = {"apply": apply, "output": output, "destroy": destroy}
    if command not in handlers:
        say(f"unsupported command {command!r}")
        return 2
    return handlers[command]()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
