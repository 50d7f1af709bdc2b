provider "aws" {
  region = var.region

  # Every resource the provider creates carries these: the teardown check finds a run's
  # resources by Project and RunId; ManagedBy says what made them.
  # They reach the instance and its root volume at launch, in RunInstances' own tag
  # specifications, so the volume is never untagged, not even for a moment.
  default_tags {
    tags = local.tags
  }
}
