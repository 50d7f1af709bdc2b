locals {
  # The tags every resource of a run carries, applied by the provider's default_tags (see
  # providers.tf). The primary network interface gets them below with aws_ec2_tag: the instance
  # launches it, and neither its tags nor default_tags reach it.
  tags = {
    ManagedBy = var.managed_by
    Project   = var.project
    RunId     = var.run_id
  }
  name = "${var.project}-${var.run_id}"

  # null when no default subnet fits: data.aws_subnet.api's precondition says so clearly.
  subnet_id = var.subnet_id != null ? var.subnet_id : try(sort(data.aws_subnets.default[0].ids)[0], null)

  user_data = templatefile("${path.module}/user_data.sh", {
    api_key       = var.api_key
    base_image    = var.base_image
    bundle_sha256 = var.app_bundle_sha256
    image         = "${var.project}-api:${var.run_id}"
    managed_by    = var.managed_by
    project       = var.project
    run_id        = var.run_id
    ttl_minutes   = var.ttl_minutes
  })
  # cloud-init unpacks gzip'd user data; compressing leaves room under the 16 KB limit.
  user_data_base64 = base64gzip(local.user_data)
  # EC2 refuses more than 16,384 bytes of user data, counted before base64: the gzip'd bytes.
  # Four base64 characters carry three bytes, less one for each padding "=".
  user_data_bytes = length(local.user_data_base64) / 4 * 3 - length(regexall("=", local.user_data_base64))
  user_data_limit = 16384

  # The AMI must match the instance type's processor: Graviton types (t4g.micro) run arm64
  # only, the others x86_64.
  architectures = data.aws_ec2_instance_type.api.supported_architectures
  architecture  = contains(local.architectures, "x86_64") ? "x86_64" : "arm64"

  # Empty when the region has no default VPC (common in organisation accounts).
  default_vpc_ids = var.subnet_id == null ? data.aws_vpcs.default[0].ids : []
}

data "aws_ec2_instance_type" "api" {
  instance_type = var.instance_type
}

data "aws_ssm_parameter" "al2023" {
  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${local.architecture}"

  lifecycle {
    precondition {
      condition     = contains(local.architectures, "x86_64") || contains(local.architectures, "arm64")
      error_message = "Amazon Linux 2023 runs on x86_64 and arm64; ${var.instance_type} offers ${join(", ", local.architectures)}."
    }
  }
}

# The plural data source: an empty list where the singular one would fail with the provider's
# own error, so that the precondition below can say what to do.
data "aws_vpcs" "default" {
  count = var.subnet_id == null ? 1 : 0

  filter {
    name   = "is-default"
    values = ["true"]
  }
}

# Not every availability zone offers every instance type (t3.micro is missing from some).
data "aws_ec2_instance_type_offerings" "api" {
  count = var.subnet_id == null ? 1 : 0

  location_type = "availability-zone"

  filter {
    name   = "instance-type"
    values = [var.instance_type]
  }
}

data "aws_subnets" "default" {
  count = length(local.default_vpc_ids) > 0 ? 1 : 0

  filter {
    name   = "vpc-id"
    values = local.default_vpc_ids
  }

  filter {
    name   = "default-for-az"
    values = ["true"]
  }

  filter {
    name   = "availability-zone"
    values = data.aws_ec2_instance_type_offerings.api[0].locations
  }
}

data "aws_subnet" "api" {
  id = local.subnet_id

  lifecycle {
    precondition {
      condition     = var.subnet_id != null || length(local.default_vpc_ids) > 0
      error_message = "The region ${var.region} has no default VPC: pass subnet_id, a subnet with a route to an internet gateway."
    }

    precondition {
      condition     = local.subnet_id != null
      error_message = "No default subnet in ${var.region} offers ${var.instance_type}: pass subnet_id."
    }
  }
}

resource "aws_security_group" "api" {
  name_prefix = "${local.name}-"
  description = "API of ${local.name}: TCP 5000 in from the allowed CIDRs, HTTPS out"
  vpc_id      = data.aws_subnet.api.vpc_id

  tags = {
    Name = "${local.name}-api"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "api" {
  for_each = toset(var.allowed_cidrs)

  security_group_id = aws_security_group.api.id
  description       = "API on TCP 5000 from ${each.value}"
  ip_protocol       = "tcp"
  from_port         = 5000
  to_port           = 5000
  cidr_ipv4         = strcontains(each.value, ":") ? null : each.value
  cidr_ipv6         = strcontains(each.value, ":") ? cidrsubnet(each.value, 0, 0) : null

  tags = {
    Name = "${local.name}-api-in"
  }
}

# Outbound is open to any address, but on 443 only: the first boot fetches dnf packages, the
# base image and Python packages over HTTPS from hosts with changing addresses. DNS (the VPC
# resolver), NTP (Amazon Time Sync) and the metadata service are link-local or VPC-internal
# and not filtered by security groups.
resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.api.id
  description       = "HTTPS out for the first boot: packages, base image, Python packages"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"

  tags = {
    Name = "${local.name}-https-out"
  }
}

resource "aws_instance" "api" {
  #checkov:skip=CKV_AWS_88:The API is reached on its public IP; ingress is TCP 5000 from the allowed CIDRs only, never a /0.
  #checkov:skip=CKV_AWS_126:Detailed monitoring costs extra and nobody reads it for one instance that lives two hours.
  #checkov:skip=CKV_AWS_135:t3 types are EBS-optimized anyway; setting it would break t2.micro, one variable away.
  #checkov:skip=CKV2_AWS_41:The instance calls no AWS API, so it gets no instance profile (least privilege).
  ami                                  = data.aws_ssm_parameter.al2023.insecure_value
  instance_type                        = var.instance_type
  subnet_id                            = data.aws_subnet.api.id
  vpc_security_group_ids               = [aws_security_group.api.id]
  associate_public_ip_address          = true
  monitoring                           = false
  instance_initiated_shutdown_behavior = "terminate"
  user_data_base64                     = local.user_data_base64
  user_data_replace_on_change          = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  root_block_device {
    encrypted             = true
    volume_type           = "gp3"
    volume_size           = 10
    delete_on_termination = true

    # Only the Name: the run's tags reach the volume at launch, from default_tags, while these
    # are added by a separate call after the launch, whose failure the provider only logs.
    tags = {
      Name = "${local.name}-root"
    }
  }

  tags = {
    Name = "${local.name}-api"
  }

  lifecycle {
    # A newer AMI must not replace a running deployment that a later apply only inspects.
    ignore_changes = [ami]

    precondition {
      condition     = local.user_data_bytes <= local.user_data_limit
      error_message = "User data is ${nonsensitive(local.user_data_bytes)} bytes gzip'd, over EC2's limit of ${local.user_data_limit}: make user_data.sh smaller (the application travels apart, only its hash is in the user data)."
    }
  }
}

resource "aws_ec2_tag" "network_interface" {
  for_each = merge(local.tags, {
    Name = "${local.name}-eni"
  })

  resource_id = aws_instance.api.primary_network_interface_id
  key         = each.key
  value       = each.value
}
