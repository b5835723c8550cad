# restoredrill on AWS: the WAL/binlog archive bucket, a least-privilege drill-runner role,
# and a scheduled runner (EventBridge Scheduler -> ECS Fargate task running a playbook)
# with an alarm when a scheduled drill has not succeeded.
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.30"
    }
  }
}
