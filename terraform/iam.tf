# --- the drill-runner role: read the archive; restore RDS only into instances tagged as
# restoredrill's, and delete only instances carrying that tag ---------------------------------

data "aws_iam_policy_document" "runner_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "runner" {
  name               = "${var.name}-drill-runner"
  assume_role_policy = data.aws_iam_policy_document.runner_assume.json
}

locals {
  rds_arn_prefix = "arn:${data.aws_partition.current.partition}:rds:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}"
}

data "aws_iam_policy_document" "runner" {
  statement {
    sid       = "ListArchive"
    effect    = "Allow"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [aws_s3_bucket.archive.arn]
  }

  statement {
    sid       = "ReadArchive"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${aws_s3_bucket.archive.arn}/*"]
  }

  statement {
    sid       = "DecryptArchive"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.archive.arn]
  }

  statement {
    sid    = "DescribeRds"
    effect = "Allow"
    actions = [
      "rds:DescribeDBInstances",
      "rds:DescribeDBSnapshots",
      "rds:DescribeDBInstanceAutomatedBackups",
      "rds:ListTagsForResource",
    ]
    resources = ["*"]
  }

  # Reading the source (its automated backups / snapshots) for a restore.
  statement {
    sid    = "RestoreFromSource"
    effect = "Allow"
    actions = [
      "rds:RestoreDBInstanceToPointInTime",
      "rds:RestoreDBInstanceFromDBSnapshot",
    ]
    resources = concat(var.rds_source_instance_arns, ["${local.rds_arn_prefix}:snapshot:*"])
  }

  # Creating the sandbox: only with restoredrill's tags on the request.
  statement {
    sid    = "CreateTaggedSandbox"
    effect = "Allow"
    actions = [
      "rds:RestoreDBInstanceToPointInTime",
      "rds:RestoreDBInstanceFromDBSnapshot",
    ]
    resources = ["${local.rds_arn_prefix}:db:restoredrill-*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/restoredrill:owner"
      values   = [var.owner_tag]
    }
    condition {
      test     = "ForAllValues:StringLike"
      variable = "aws:TagKeys"
      values   = ["restoredrill:*"]
    }
  }

  statement {
    sid    = "UseSandboxNetwork"
    effect = "Allow"
    actions = [
      "rds:RestoreDBInstanceToPointInTime",
      "rds:RestoreDBInstanceFromDBSnapshot",
    ]
    resources = [
      "${local.rds_arn_prefix}:subgrp:*",
      "${local.rds_arn_prefix}:pg:*",
      "${local.rds_arn_prefix}:og:*",
    ]
  }

  statement {
    sid       = "TagOnCreateOnly"
    effect    = "Allow"
    actions   = ["rds:AddTagsToResource"]
    resources = ["${local.rds_arn_prefix}:db:restoredrill-*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/restoredrill:owner"
      values   = [var.owner_tag]
    }
  }

  # Deleting: only instances that carry restoredrill's owner tag.
  statement {
    sid       = "DeleteOwnSandboxesOnly"
    effect    = "Allow"
    actions   = ["rds:DeleteDBInstance"]
    resources = ["${local.rds_arn_prefix}:db:restoredrill-*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/restoredrill:owner"
      values   = [var.owner_tag]
    }
  }

  statement {
    sid       = "PublishDrillMetrics"
    effect    = "Allow"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["restoredrill"]
    }
  }
}

resource "aws_iam_role_policy" "runner" {
  name   = "${var.name}-drill-runner"
  role   = aws_iam_role.runner.id
  policy = data.aws_iam_policy_document.runner.json
}
