terraform {
  required_version = ">= 1.5.0, < 2.0.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # The release terraform/ pins and CI rehearses (see ../versions.tf).
      version = "5.100.0"
    }
  }
}
