# The role GitHub Actions assumes, by OIDC, to run `pytest features/ --target=aws`: it may do
# exactly what the deployment, the teardown check and the sweep do, and only to resources
# tagged with the project, in the allowed regions (policy.json.tftpl, enforced on every call
# of the rehearsal and checked against them by tests/test_ci_role.py); it may be assumed only
# by the aws environment of one repository, on its protected branch.

locals {
  oidc_url = "https://token.actions.githubusercontent.com"
  oidc_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : data.aws_iam_openid_connect_provider.github[0].arn
}

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 1 : 0

  url            = local.oidc_url
  client_id_list = ["sts.amazonaws.com"]
}

data "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 0 : 1

  url = local.oidc_url
}

data "aws_iam_policy_document" "trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.oidc_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    # Only jobs of this repository's environment running on the protected branch: not other
    # branches' jobs, not forks. GitHub's default subject of an environment job names no ref,
    # so the repository's subject template must add it (README, "CI on GitHub"): AWS then
    # checks the branch itself, besides the environment's own deployment-branch rule on GitHub.
    # AWS reads no other GitHub claim (job_workflow_ref, custom claims): only sub and aud.
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:environment:${var.github_environment}:ref:refs/heads/${var.github_branch}"]
    }
  }
}

resource "aws_iam_role" "acceptance" {
  name                 = var.role_name
  description          = "Runs the state-api acceptance scenarios against a fresh EC2 instance, then destroys it."
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = 7200 # the workflow asks for two hours: longer than its job

  tags = {
    Name = var.role_name
  }
}

resource "aws_iam_role_policy" "acceptance" {
  name = "state-api-acceptance"
  role = aws_iam_role.acceptance.id
  # The rehearsal renders the same template with the same defaults (harness/ci_role.py) and
  # enforces it on every call the harness makes; tests/test_ci_role.py proves both renderings
  # are one document.
  policy = templatefile("${path.module}/policy.json.tftpl", {
    allowed_instance_types = var.allowed_instance_types
    allowed_regions        = var.allowed_regions
    project                = var.project
  })
}
