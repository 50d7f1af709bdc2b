# The role GitHub Actions assumes, by OIDC, to run `pytest features/ --target=aws`: it may do
# exactly what the deployment and the teardown check do (policy.json, checked against every
# call a rehearsal makes by tests/test_ci_role.py), and be assumed only by the aws environment
# of one repository.

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

    # Only jobs of this repository's environment: not other branches' jobs, not forks.
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:environment:${var.github_environment}"]
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
  name   = "state-api-acceptance"
  role   = aws_iam_role.acceptance.id
  policy = file("${path.module}/policy.json")
}
