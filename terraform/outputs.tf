output "archive_bucket" {
  description = "Bucket for base backups, WAL and binlogs (s3://<this>/...)."
  value       = aws_s3_bucket.archive.bucket
}

output "archive_kms_key_arn" {
  value = aws_kms_key.archive.arn
}

output "drill_runner_role_arn" {
  value = aws_iam_role.runner.arn
}

output "schedule_name" {
  value = aws_scheduler_schedule.drill.name
}

output "alarm_name" {
  value = aws_cloudwatch_metric_alarm.drill_not_succeeded.alarm_name
}
