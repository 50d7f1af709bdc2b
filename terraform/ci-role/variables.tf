variable "create_oidc_provider" {
  description = "Create GitHub's OIDC identity provider in the account; false when the account has one already (there can be only one per URL)."
  type        = bool
  default     = true
  nullable    = false
}

variable "github_environment" {
  description = "The GitHub environment whose jobs may assume the role (.github/workflows/aws.yml runs in \"aws\")."
  type        = string
  default     = "aws"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,255}$", var.github_environment))
    error_message = "github_environment must be an environment name, e.g. \"aws\"."
  }
}

variable "github_repository" {
  description = "The repository whose workflow assumes the role, as OWNER/NAME."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be OWNER/NAME, e.g. \"octo-org/state-api\"."
  }
}

variable "region" {
  description = "AWS region for the provider (IAM itself is global)."
  type        = string
  default     = "eu-west-1"
  nullable    = false
}

variable "role_name" {
  description = "Name of the role the aws workflow assumes."
  type        = string
  default     = "state-api-acceptance"
  nullable    = false
}
