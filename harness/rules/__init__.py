"""The rules the deployment keeps, checked statically from ``terraform/``: on the
configuration (:mod:`harness.rules.configuration`) and on the instance's user data
(:mod:`harness.rules.user_data`). Nothing here runs Terraform; the variables' own validations,
which only Terraform can run, are in :mod:`harness.rules.variable_values`.

Every rule is named here, so that a step or a test asks ``rules.<rule>_problems`` whichever
file it reads.
"""

from __future__ import annotations

from harness.rules.configuration import (
    default_tag_problems,
    egress_protocol_problems,
    eni_tag_problems,
    imds_problems,
    inbound_internet_problems,
    inbound_port_problems,
    inbound_source_problems,
    name_tag_problems,
    ordering_problems,
    output_description_problems,
    output_secret_problems,
    required_output_problems,
    root_volume_deletion_problems,
    root_volume_encryption_problems,
    rule_description_problems,
    sensitive_variable_problems,
    shutdown_behaviour_problems,
    variable_declaration_problems,
)
from harness.rules.user_data import (
    base_image_problems,
    dead_mans_switch_problems,
    package_problems,
)

__all__ = [
    "base_image_problems",
    "dead_mans_switch_problems",
    "default_tag_problems",
    "egress_protocol_problems",
    "eni_tag_problems",
    "imds_problems",
    "inbound_internet_problems",
    "inbound_port_problems",
    "inbound_source_problems",
    "name_tag_problems",
    "ordering_problems",
    "output_description_problems",
    "output_secret_problems",
    "package_problems",
    "required_output_problems",
    "root_volume_deletion_problems",
    "root_volume_encryption_problems",
    "rule_description_problems",
    "sensitive_variable_problems",
    "shutdown_behaviour_problems",
    "variable_declaration_problems",
]
