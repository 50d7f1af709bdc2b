variable "allowed_cidrs" {
  description = "CIDRs allowed to reach the API on TCP 5000, usually the runner's public address as a /32."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.allowed_cidrs) > 0
    error_message = "allowed_cidrs needs at least one CIDR, e.g. [\"203.0.113.7/32\"]."
  }

  validation {
    condition     = alltrue([for cidr in var.allowed_cidrs : can(cidrhost(cidr, 0))])
    error_message = "Every entry of allowed_cidrs must be a valid CIDR, e.g. \"203.0.113.7/32\"."
  }

  validation {
    condition = alltrue([
      for cidr in var.allowed_cidrs : !contains(["0.0.0.0/0", "::/0"], cidr) && !endswith(cidr, "/0")
    ])
    error_message = "allowed_cidrs must not open the API to the whole internet (no /0)."
  }

  # AWS refuses a CIDR with host bits set ("203.0.113.7/24") only at apply. The network address,
  # in Terraform's canonical spelling, is compared with the address as written, in the same
  # spelling (so "2001:DB8::/64" passes and "2001:db8::1/64" does not).
  validation {
    condition = alltrue([
      for cidr in var.allowed_cidrs : try(
        cidrhost(cidr, 0) == cidrhost("${split("/", cidr)[0]}/${strcontains(cidr, ":") ? 128 : 32}", 0),
        false
      )
    ])
    error_message = "Write each CIDR with its network address, e.g. \"203.0.113.0/24\" or \"2001:db8::/64\", not \"203.0.113.7/24\" or \"2001:db8::1/64\"."
  }
}

variable "api_key" {
  description = "Key the API asks for in X-API-KEY on POST /update; empty turns authentication off. Reaches the container through user data."
  type        = string
  sensitive   = true
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9._~+/=-]{0,256}$", var.api_key))
    error_message = "api_key may hold only letters, digits and ._~+/=- (at most 256 characters)."
  }
}

variable "app_bundle_sha256" {
  description = "SHA-256 (hex) of the application bundle (a tar.gz of Dockerfile, .dockerignore, requirements.txt and app/, the same bytes for the same files) that the harness sends to the instance once it is up; the instance takes no other."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.app_bundle_sha256))
    error_message = "app_bundle_sha256 must be 64 lowercase hex digits (a SHA-256)."
  }
}

variable "base_image" {
  description = "Base image the instance builds the API's image on: the official Python image the Dockerfile names, from Amazon's public ECR mirror of Docker Hub (no anonymous pull limit per address)."
  type        = string
  default     = "public.ecr.aws/docker/library/python:3.11-slim"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$", var.base_image))
    error_message = "base_image must be a full image reference with a tag or digest, e.g. \"public.ecr.aws/docker/library/python:3.11-slim\"."
  }
}

variable "instance_type" {
  description = "EC2 instance type. t3.micro by default: accounts opened since July 2025 get no free tier on t2.micro."
  type        = string
  default     = "t3.micro"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9-]+\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must look like \"t3.micro\"."
  }
}

variable "managed_by" {
  description = "Value of the ManagedBy tag on every resource."
  type        = string
  default     = "terraform"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9 ._:/=+@-]{1,256}$", var.managed_by))
    error_message = "managed_by must be 1 to 256 characters a tag value accepts."
  }
}

variable "project" {
  description = "Value of the Project tag, and the prefix of resource names and of the image name."
  type        = string
  default     = "state-api"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,29}$", var.project))
    error_message = "project must be 1 to 30 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "region must look like \"eu-west-1\"."
  }
}

variable "run_id" {
  description = "Unique id of this run: the RunId tag, part of every resource name, and the image tag."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$", var.run_id))
    error_message = "run_id must be 1 to 40 letters, digits or ._- characters, starting with a letter or digit."
  }
}

variable "subnet_id" {
  description = "Subnet to launch into; null picks a default subnet of the default VPC in a zone offering instance_type."
  type        = string
  default     = null

  validation {
    condition     = var.subnet_id == null || can(regex("^subnet-[0-9a-f]{8,17}$", var.subnet_id))
    error_message = "subnet_id must be null or look like \"subnet-0123456789abcdef0\"."
  }
}

variable "ttl_minutes" {
  description = "Dead man's switch: the instance powers off, and so terminates, this many minutes after its first boot."
  type        = number
  default     = 120
  nullable    = false

  validation {
    condition     = var.ttl_minutes >= 15 && var.ttl_minutes <= 1440 && floor(var.ttl_minutes) == var.ttl_minutes
    error_message = "ttl_minutes must be a whole number from 15 (a first boot takes minutes) to 1440 (one day)."
  }
}
