output "role_arn" {
  description = "Set this as the variable AWS_ROLE_ARN of the repository's aws environment."
  value       = aws_iam_role.acceptance.arn
}
