provider "aws" {
  region = var.region

  default_tags {
    tags = {
      ManagedBy = "terraform"
      Project   = "state-api"
      Purpose   = "ci-role"
    }
  }
}
