variable "allowed_instance_types" {
  description = "Instance types the role may launch (terraform/'s instance_type must be one of them)."
  type        = list(string)
  default     = ["t3.micro"]
  nullable    = false

  validation {
    condition     = length(var.allowed_instance_types) > 0 && alltrue([for t in var.allowed_instance_types : can(regex("^[a-z0-9-]+\\.[a-z0-9]+$", t))])
    error_message = "allowed_instance_types needs at least one type, each like \"t3.micro\" (no wildcards)."
  }
}

variable "allowed_regions" {
  description = "Regions the role may call (aws:RequestedRegion): the aws workflow's region, and any it may be given."
  type        = list(string)
  default     = ["eu-west-1"]
  nullable    = false

  validation {
    condition     = length(var.allowed_regions) > 0 && alltrue([for r in var.allowed_regions : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", r))])
    error_message = "allowed_regions needs at least one region, each like \"eu-west-1\" (no wildcards)."
  }
}

variable "create_oidc_provider" {
  description = "Create GitHub's OIDC identity provider in the account; false when the account has one already (there can be only one per URL)."
  type        = bool
  default     = true
  nullable    = false
}

variable "github_branch" {
  description = "The protected branch whose jobs may assume the role (the aws environment's only deployment branch)."
  type        = string
  default     = "main"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]{1,255}$", var.github_branch)) && !strcontains(var.github_branch, "*")
    error_message = "github_branch must be one branch name, e.g. \"main\" (no wildcards)."
  }
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

variable "project" {
  description = "The Project tag the role's resources carry (terraform/'s project): the role may change and end only what carries it."
  type        = string
  default     = "state-api"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,29}$", var.project))
    error_message = "project must be 1 to 30 lowercase letters, digits or dashes, starting with a letter."
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
