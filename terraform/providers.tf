provider "aws" {
  region = var.region

  # Every resource the provider creates carries these; the teardown check looks for them.
  # They reach the instance and its root volume at launch, in RunInstances' own tag
  # specifications, so the volume is never untagged, not even for a moment.
  default_tags {
    tags = local.tags
  }
}
