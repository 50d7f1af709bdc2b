output "api_url" {
  description = "Base URL of the API (plain HTTP on port 5000, reachable from allowed_cidrs only)."
  value       = "http://${aws_instance.api.public_ip}:5000"
}

output "instance_id" {
  description = "Id of the EC2 instance running the API."
  value       = aws_instance.api.id
}

output "public_ip" {
  description = "Public IPv4 address of the instance."
  value       = aws_instance.api.public_ip
}

output "security_group_id" {
  description = "Id of the security group guarding the API."
  value       = aws_security_group.api.id
}
