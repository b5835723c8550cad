# --- the scheduled runner: EventBridge Scheduler starts an ECS Fargate task that runs a
# playbook; its log says whether the drill passed, and an alarm fires when no drill has
# succeeded within the window ----------------------------------------------------------------

resource "aws_ecs_cluster" "drills" {
  name = "${var.name}-drills"
}

resource "aws_cloudwatch_log_group" "drills" {
  name              = "/${var.name}/drills"
  retention_in_days = 90
}

data "aws_iam_policy_document" "execution" {
  statement {
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.drills.arn}:*"]
  }
  statement {
    effect = "Allow"
    actions = [
      "ecr:GetAuthorizationToken",
      "ecr:BatchCheckLayerAvailability",
      "ecr:GetDownloadUrlForLayer",
      "ecr:BatchGetImage",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-task-execution"
  assume_role_policy = data.aws_iam_policy_document.runner_assume.json
}

resource "aws_iam_role_policy" "execution" {
  name   = "${var.name}-task-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_ecs_task_definition" "drill" {
  family                   = "${var.name}-drill"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = "2048"
  memory                   = "8192"
  task_role_arn            = aws_iam_role.runner.arn
  execution_role_arn       = aws_iam_role.execution.arn

  ephemeral_storage {
    size_in_gib = 100
  }

  container_definitions = jsonencode([
    {
      name      = "drill"
      image     = var.container_image
      essential = true
      command   = ["restoredrill", "run", var.playbook, "--json"]
      environment = [
        { name = "AWS_REGION", value = data.aws_region.current.name },
        { name = "RESTOREDRILL_ARCHIVE_BUCKET", value = aws_s3_bucket.archive.bucket },
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.drills.name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = "drill"
        }
      }
    }
  ])
}

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    effect    = "Allow"
    actions   = ["ecs:RunTask"]
    resources = [aws_ecs_task_definition.drill.arn_without_revision, "${aws_ecs_task_definition.drill.arn_without_revision}:*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [aws_ecs_cluster.drills.arn]
    }
  }
  statement {
    effect    = "Allow"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.runner.arn, aws_iam_role.execution.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "${var.name}-scheduler"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "drill" {
  name                = "${var.name}-drill"
  schedule_expression = var.schedule_expression

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_ecs_cluster.drills.arn
    role_arn = aws_iam_role.scheduler.arn

    ecs_parameters {
      task_definition_arn = aws_ecs_task_definition.drill.arn
      launch_type         = "FARGATE"
      task_count          = 1

      network_configuration {
        subnets          = var.vpc_subnet_ids
        security_groups  = var.security_group_ids
        assign_public_ip = false
      }
    }

    retry_policy {
      maximum_retry_attempts       = 2
      maximum_event_age_in_seconds = 3600
    }
  }
}

# The drill's JSON result carries "verdict": "PASS" when it succeeded.
resource "aws_cloudwatch_log_metric_filter" "drill_passed" {
  name           = "${var.name}-drill-passed"
  log_group_name = aws_cloudwatch_log_group.drills.name
  pattern        = "{ $.verdict = \"PASS\" }"

  metric_transformation {
    name          = "DrillSucceeded"
    namespace     = "restoredrill"
    value         = "1"
    default_value = "0"
  }
}

resource "aws_cloudwatch_metric_alarm" "drill_not_succeeded" {
  alarm_name          = "${var.name}-drill-not-succeeded"
  alarm_description   = "No scheduled restore drill succeeded within the window: backups may not restore."
  namespace           = "restoredrill"
  metric_name         = aws_cloudwatch_log_metric_filter.drill_passed.metric_transformation[0].name
  statistic           = "Sum"
  period              = var.success_window_seconds
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}
