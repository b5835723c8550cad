variable "name" {
  description = "Name prefix for every resource (bucket, role, cluster, schedule)."
  type        = string
  default     = "restoredrill"
}

variable "bucket_name" {
  description = "Name of the archive bucket (base backups, WAL, binlogs)."
  type        = string
}

variable "object_lock" {
  description = "Enable S3 Object Lock (compliance retention) on the archive bucket."
  type        = bool
  default     = false
}

variable "object_lock_days" {
  description = "Default retention in days when object_lock is on."
  type        = number
  default     = 14
}

variable "noncurrent_version_days" {
  description = "Days after which overwritten or deleted object versions are removed."
  type        = number
  default     = 30
}

variable "archive_expiry_days" {
  description = "Days after which archived WAL/binlogs and base backups expire (0: never)."
  type        = number
  default     = 35
}

variable "owner_tag" {
  description = "Value of the restoredrill:owner tag the runner puts on (and requires to delete) RDS sandboxes."
  type        = string
  default     = "restoredrill-scheduled"
}

variable "rds_source_instance_arns" {
  description = "ARNs of the production RDS instances (and their snapshots) the runner may restore from."
  type        = list(string)
  default     = []
}

variable "vpc_subnet_ids" {
  description = "Private subnets the Fargate task (and RDS sandboxes) run in."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the Fargate task."
  type        = list(string)
}

variable "container_image" {
  description = "Image with restoredrill and the PostgreSQL server binaries."
  type        = string
}

variable "playbook" {
  description = "Playbook path inside the image that the scheduled drill runs."
  type        = string
  default     = "/playbooks/nightly.yml"
}

variable "schedule_expression" {
  description = "When the drill runs (EventBridge Scheduler expression)."
  type        = string
  default     = "cron(17 3 * * ? *)"
}

variable "success_window_seconds" {
  description = "Alarm when no drill succeeded within this many seconds (max 86400 per period)."
  type        = number
  default     = 86400
}

variable "alarm_actions" {
  description = "SNS topic ARNs to notify when the drill has not succeeded."
  type        = list(string)
  default     = []
}
