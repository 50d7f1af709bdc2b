provider "aws" {
  region = var.region

  # Every resource the provider creates carries these; the teardown check looks for them.
  default_tags {
    tags = local.tags
  }
}
